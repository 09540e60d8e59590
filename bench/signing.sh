#!/usr/bin/env bash
# Signed-commit verification at push time: N-commit pushes (SSH-signed and
# OpenPGP-signed, by a registered developer) into a bare repository with
# gatehouse's pre-receive hook, against the same push into one without a
# hook, and against a loop of `git verify-commit` over the same commits,
# all in the same run. Also `gatehouse verify-commit` over the N commits.
#
#   bench/signing.sh [N]      (default 1000; needs git, ssh-keygen, gpg, python3)
set -euo pipefail
# Benchmarks measure the machinery, not a person's authenticator app: the
# admin acts without a second factor here (never do this in production).
export GATEHOUSE_MFA_REQUIRED=false GATEHOUSE_MFA_STEP_UP=false
cd "$(dirname "$0")/.."
n="${1:-1000}"
cargo build --profile dist --locked -q
bin="$PWD/target/dist/gatehouse"
work="$(mktemp -d)"
port=18973
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; gpgconf --kill all 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export HOME="$work" GNUPGHOME="$work/gnupg" GIT_CONFIG_NOSYSTEM=1
mkdir -m 700 "$GNUPGHOME"
git config --global user.name ana
git config --global user.email ana@example.com
git config --global init.defaultBranch main

now() { python3 -c 'import time; print(time.time())'; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

export GATEHOUSE_URL="http://127.0.0.1:$port"
GATEHOUSE_TOKEN="$("$bin" --data-dir "$work/data" init --admin-email bench@example.com | tail -n 1)"
export GATEHOUSE_TOKEN
GATEHOUSE_LOG_LEVEL=warn "$bin" --data-dir "$work/data" serve --listen "127.0.0.1:$port" &
pid=$!
for _ in $(seq 1 400); do curl -fs "$GATEHOUSE_URL/readyz" >/dev/null 2>&1 && break; sleep 0.01; done

ana="$("$bin" identity create --kind human --name ana --email ana@example.com --output json | field id)"
"$bin" grant add --identity "$ana" --role developer --scope project:acme/web >/dev/null
ssh-keygen -q -t ed25519 -N "" -C ana -f "$work/ana_ssh"
"$bin" key add --identity "$ana" "$work/ana_ssh.pub" >/dev/null
gpg --batch --quiet --passphrase '' --quick-gen-key 'ana <ana@example.com>' ed25519 sign never
fpr="$(gpg --batch --with-colons --list-keys ana@example.com | awk -F: '/^fpr:/ {print $10; exit}')"
gpg --batch --armor --export "$fpr" >"$work/ana.asc"
"$bin" key add --identity "$ana" "$work/ana.asc" >/dev/null
printf 'ana@example.com %s\n' "$(cut -d' ' -f1,2 "$work/ana_ssh.pub")" >"$work/allowed_signers"

for kind in ssh openpgp; do
    repo="$work/src-$kind"
    git init -q "$repo"
    if [ "$kind" = ssh ]; then
        git -C "$repo" config gpg.format ssh
        git -C "$repo" config user.signingkey "$work/ana_ssh"
        git -C "$repo" config gpg.ssh.allowedSignersFile "$work/allowed_signers"
    else
        git -C "$repo" config user.signingkey "$fpr"
    fi
    git -C "$repo" config commit.gpgsign true
    for i in $(seq 1 "$n"); do
        echo "$i" >"$repo/file.txt"
        git -C "$repo" add file.txt
        git -C "$repo" commit -q -m "change $i"
    done
    mkdir -p "$work/$kind/acme"
    git init -q --bare "$work/$kind/plain.git"
    git init -q --bare "$work/$kind/acme/web.git"
    printf '#!/bin/sh\nexec "%s" hook pre-receive\n' "$bin" >"$work/$kind/acme/web.git/hooks/pre-receive"
    chmod +x "$work/$kind/acme/web.git/hooks/pre-receive"

    t0=$(now); git -C "$repo" push -q "$work/$kind/plain.git" main; t1=$(now)
    git -C "$repo" push -q "$work/$kind/acme/web.git" main; t2=$(now)
    (cd "$repo" && git rev-list main | while read -r c; do git verify-commit "$c" >/dev/null 2>&1 || { echo "git verify-commit failed on $c" >&2; exit 1; }; done); t3=$(now)
    "$bin" verify-commit --repo "$repo" --project acme/web $(git -C "$repo" rev-list main) >/dev/null; t4=$(now)

    plain=$(elapsed "$t0" "$t1"); hooked=$(elapsed "$t1" "$t2"); loop=$(elapsed "$t2" "$t3"); cli=$(elapsed "$t3" "$t4")
    echo "== $kind, $n commits"
    echo "push without hook:        ${plain}s"
    echo "push with gatehouse hook: ${hooked}s (the hook adds $(python3 -c "print(f'{$hooked - $plain:.3f}')")s)"
    echo "git verify-commit loop:   ${loop}s ($(python3 -c "print(f'{$n / $loop:.0f}')") commits/s)"
    echo "gatehouse verify-commit:  ${cli}s ($(python3 -c "print(f'{$n / $cli:.0f}')") commits/s, $(python3 -c "print(f'{$loop / $cli:.1f}')")x the loop)"
done
