//! The command line, as clap sees it. Options that every command shares are
//! global; each has an environment twin (see the README's configuration
//! table).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "The one door into a CI/CD pipeline", max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Where gatehouse keeps its files (SQLite database, audit signing key, policy).
    #[arg(long, global = true, env = "GATEHOUSE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file [default: <data-dir>/gatehouse.toml, optional].
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [env: GATEHOUSE_DATABASE_URL]
    /// [default: sqlite://<data-dir>/gatehouse.db]
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Policy folder [env: GATEHOUSE_POLICY_DIR] [default: <data-dir>/policy]
    #[arg(long, global = true, value_name = "DIR")]
    pub policy_dir: Option<PathBuf>,
    /// The gatehouse server, for client commands.
    #[arg(long, global = true, env = "GATEHOUSE_URL", value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API token, for client commands.
    #[arg(long, global = true, env = "GATEHOUSE_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format of client commands.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data dir, signing key, schema, default policy and first admin.
    Init(InitArgs),
    /// Run the server (initializing an empty data dir first).
    Serve(ServeArgs),
    /// Show who the token belongs to.
    Whoami,
    /// Manage identities (people and services).
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Export and verify the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage grants: roles given to identities over scopes.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Check the policy folder.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage trust bindings: which CI jobs act as which service identity.
    #[command(subcommand)]
    Binding(BindingCommand),
    /// For a CI job: ask gatehouse whether this job may act, with the job's
    /// own OIDC token. Exit 0 allow, 1 deny, 2 error.
    Gate(GateArgs),
    /// Manage signing keys (SSH or OpenPGP public keys) of an identity.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Verify commits: signed by a registered key of an active identity
    /// allowed to push. Exit 1 if any fails.
    VerifyCommit {
        /// The repository [default: the current directory].
        #[arg(long, value_name = "DIR")]
        repo: Option<PathBuf>,
        /// The project (`ORG/REPO`) whose push rights count [env: GATEHOUSE_PROJECT].
        #[arg(long)]
        project: Option<String>,
        /// Commits (anything `git rev-parse` takes).
        #[arg(required = true)]
        revs: Vec<String>,
    },
    /// Verify an artifact signed with `ssh-keygen -Y sign -n gatehouse`.
    VerifyBlob {
        /// The signature file (`FILE.sig`).
        #[arg(long, value_name = "FILE.sig")]
        signature: PathBuf,
        /// The signed file.
        file: PathBuf,
    },
    /// Git hooks that enforce signing where code enters.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Your second factor (TOTP): enroll, confirm, and step up.
    #[command(subcommand)]
    Mfa(MfaCommand),
    /// The approved channel: ask for access or a gated action, vote, wait.
    #[command(subcommand)]
    Request(RequestCommand),
    /// The approval rules in force.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Emergency access or deployment approval at once, for members of the
    /// rule's `break_glass.who`; someone else reviews it afterwards
    /// (`break-glass review`).
    BreakGlass(BreakGlassArgs),
    /// Outside tools wired into the pipeline: register, check against the
    /// API access standard (exit 1 when it fails), and waive rules.
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Vendors of outside tools: records, approval, offboarding, the report.
    #[command(subcommand)]
    Vendor(VendorCommand),
    /// Security evidence of a vendor (SOC 2 reports, pen tests, DPAs…);
    /// without a subcommand, the auditor's evidence file of a period's
    /// deployments (`--from T1 --to T2 --out FILE`), checked offline by
    /// `evidence verify`.
    Evidence(EvidenceArgs),
    /// Access reviews: open a campaign, list and show campaigns and their
    /// items, decide an item (with a fresh second factor), close early,
    /// export a closed one's proof and verify it offline.
    #[command(subcommand)]
    Review(ReviewCommand),
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub command: Option<EvidenceCommand>,
    /// Deployments at or after this RFC 3339 time.
    #[arg(long, value_name = "T1", required = true)]
    pub from: Option<String>,
    /// Deployments before this RFC 3339 time.
    #[arg(long, value_name = "T2", required = true)]
    pub to: Option<String>,
    /// Only environments this glob matches: `ORG/REPO:NAME` (`acme/*:prod*`),
    /// or without `:` the name alone (`production`).
    #[arg(long, value_name = "GLOB")]
    pub environment: Option<String>,
    /// The file to write (JSON).
    #[arg(long, value_name = "FILE", required = true)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BreakGlassArgs {
    #[command(subcommand)]
    pub command: Option<BreakGlassCommand>,
    /// The incident this is for.
    #[arg(long)]
    pub incident: Option<String>,
    /// Why, for the record and the after-review.
    #[arg(long)]
    pub reason: Option<String>,
    /// A role the policy folder defines (with `--scope`).
    #[arg(long, requires = "scope", conflicts_with_all = ["action", "resource"])]
    pub role: Option<String>,
    /// `*`, `project:ORG/REPO`, `pipeline:ORG/REPO:NAME` or `environment:ORG/REPO:NAME`.
    #[arg(long)]
    pub scope: Option<String>,
    /// How long the access lasts (default and maximum: the rule's break-glass duration).
    #[arg(long)]
    pub duration: Option<String>,
    /// The gated action (`deployment.execute`, …), with `--resource`.
    #[arg(long, requires = "resource")]
    pub action: Option<String>,
    /// `TYPE:ID`, e.g. `environment:acme/web:production`.
    #[arg(long)]
    pub resource: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BreakGlassCommand {
    /// Review someone else's break-glass: `ok`, or `flag` for a closer look.
    /// Needs a recent second factor: give `--code`, or be asked.
    Review {
        id: String,
        /// `ok` or `flag`.
        #[arg(long)]
        decision: String,
        #[arg(long)]
        reason: String,
        /// A TOTP code, verified first.
        #[arg(long)]
        code: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Check that every loaded rule can still be satisfied by the people in
    /// the directory now. Exit 1 if one cannot.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Ask for access (`--role --scope --duration`) or for a gated action
    /// (`--action --resource`); the rule covering it says who must approve.
    Create {
        /// A role the policy folder defines.
        #[arg(long, requires_all = ["scope", "duration"], conflicts_with_all = ["action", "resource"])]
        role: Option<String>,
        /// `*`, `project:ORG/REPO`, `pipeline:ORG/REPO:NAME` or `environment:ORG/REPO:NAME`.
        #[arg(long)]
        scope: Option<String>,
        /// How long the access lasts once approved (`30m`, `2h`).
        #[arg(long)]
        duration: Option<String>,
        /// The gated action (`deployment.execute`, …).
        #[arg(long, requires = "resource")]
        action: Option<String>,
        /// `TYPE:ID`, e.g. `environment:acme/web:production`.
        #[arg(long)]
        resource: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// A change or incident ticket, when the rule asks for one.
        #[arg(long)]
        ticket: Option<String>,
    },
    /// List requests: yours, those you may decide (`--reviewable`), or
    /// anyone's with `audit.read`.
    List {
        /// pending, approved, denied, cancelled, expired, superseded, active, consumed, revoked.
        #[arg(long)]
        state: Option<String>,
        /// Only pending requests you may vote on and have not.
        #[arg(long, conflicts_with = "after_review")]
        reviewable: bool,
        /// Only break-glass uses whose after-review you owe.
        #[arg(long)]
        after_review: bool,
        /// An identity id, or `me`.
        #[arg(long)]
        requester: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a request: the rule's progress per clause and every vote.
    Show { id: String },
    /// Approve. Needs a recent second factor: give `--code`, or be asked.
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        /// A TOTP code, verified first when your second factor is not fresh.
        #[arg(long)]
        code: Option<String>,
    },
    /// Deny, with the reason the requester will see.
    Deny {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        code: Option<String>,
    },
    /// Cancel your own pending request.
    Cancel { id: String },
    /// End active access early.
    Revoke {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Wait until the request is decided. Exit 0 approved (or active),
    /// 1 denied, expired, cancelled or still pending at the timeout.
    Wait {
        id: String,
        /// How long to wait (`30s`, `10m`).
        #[arg(long, default_value = "5m")]
        timeout: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Start enrollment: prints the secret and the otpauth:// URI for your app.
    Enroll {
        /// Also write the QR code (SVG) to this file.
        #[arg(long, value_name = "FILE")]
        qr: Option<PathBuf>,
    },
    /// Finish enrollment with a code from the app; prints one-time recovery codes.
    Confirm { code: String },
    /// Step up: a code (or `--recovery CODE`) makes your token MFA-fresh.
    Verify {
        code: Option<String>,
        #[arg(long, value_name = "CODE")]
        recovery: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Register a public key (an OpenSSH `.pub` file or an armored OpenPGP key; `-` reads stdin).
    Add {
        /// Whose key [default: yours].
        #[arg(long)]
        identity: Option<String>,
        file: PathBuf,
    },
    /// List an identity's signing keys.
    List {
        #[arg(long)]
        identity: Option<String>,
    },
    /// Remove a signing key.
    Remove {
        #[arg(long)]
        identity: Option<String>,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Run as git's pre-receive hook: every new commit of every updated ref
    /// must be signed by a registered key of an active identity with
    /// `source.push` (and `pipeline.config.edit` when it touches pipeline
    /// configuration). The project is GATEHOUSE_PROJECT, or the last two
    /// folders of the repository's path (`…/acme/web.git` → `acme/web`).
    PreReceive,
}

#[derive(Debug, Subcommand)]
pub enum BindingCommand {
    /// Let CI jobs whose OIDC token meets every condition act as a service identity.
    Add {
        /// The OIDC issuer, exactly as its tokens' `iss`.
        #[arg(long, default_value = "https://token.actions.githubusercontent.com")]
        issuer: String,
        /// The audience the tokens must carry.
        #[arg(long)]
        audience: String,
        /// `NAME=VALUE` condition; VALUE may be a glob. Repeat a name for
        /// alternatives, e.g. `--claim repository_id=123456 --claim ref=refs/heads/main`.
        #[arg(long = "claim", value_name = "NAME=VALUE", required = true)]
        claims: Vec<String>,
        /// The service identity matching jobs act as.
        #[arg(long)]
        identity: String,
        /// Lifetime cap for exchanged tokens, 60–900 seconds.
        #[arg(long)]
        max_ttl_seconds: Option<u32>,
    },
    /// List trust bindings.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Delete a trust binding; tokens obtained through it are revoked.
    Remove { id: String },
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The action to ask about, e.g. `deployment.execute`.
    #[arg(long)]
    pub action: String,
    /// `TYPE:ID`, e.g. `environment:acme/web:production`.
    #[arg(long)]
    pub resource: String,
    /// The job's OIDC ID token. Without it, gatehouse asks GitHub Actions for
    /// one (ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN).
    #[arg(long, env = "GATEHOUSE_ID_TOKEN", hide_env_values = true)]
    pub id_token: Option<String>,
    /// The audience to request from GitHub Actions (what the trust binding expects).
    #[arg(long, env = "GATEHOUSE_AUDIENCE")]
    pub audience: Option<String>,
    /// `KEY=VALUE` context for policies (e.g. `author=ana`); repeatable.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// When an approval rule covers the action: ask for approval (or attach
    /// to this run's request), print where to approve, and wait this long
    /// (`30m`). Exit 0 approved (the approval is used), 1 denied, expired
    /// or timed out.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
    /// Why, for the approvers (with `--wait`).
    #[arg(long, requires = "wait")]
    pub reason: Option<String>,
    /// A ticket the rule may ask for (with `--wait`).
    #[arg(long, requires = "wait")]
    pub ticket: Option<String>,
    /// An author (email) of the commits being deployed, who may then not
    /// approve them (with `--wait`; repeatable, or comma-separated in
    /// GATEHOUSE_COMMIT_AUTHORS). Those gatehouse verified are excluded anyway.
    #[arg(
        long = "author",
        value_name = "EMAIL",
        requires = "wait",
        env = "GATEHOUSE_COMMIT_AUTHORS",
        value_delimiter = ','
    )]
    pub authors: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Give an identity a role over a scope.
    Add {
        #[arg(long)]
        identity: String,
        /// A role the policy folder defines (`gatehouse` roles: viewer, developer, …).
        #[arg(long)]
        role: String,
        /// `*`, `project:ORG/REPO`, `pipeline:ORG/REPO:NAME` or `environment:ORG/REPO:NAME`.
        #[arg(long)]
        scope: String,
        /// When the grant stops counting (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List grants.
    List {
        #[arg(long)]
        identity: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Revoke a grant at once.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Register a vendor's tool as an integration acting as a service
    /// identity; the identity stays suspended until onboarding is approved.
    Add {
        /// The vendor's id.
        #[arg(long)]
        vendor: String,
        /// The service identity the tool acts as.
        #[arg(long)]
        identity: String,
        /// `github_app`, `oidc_workload`, `gatehouse_token`, `classic_pat`, `oauth_app`,
        /// `fine_grained_pat`, `deploy_key` or `static_api_key`.
        #[arg(long)]
        method: String,
        /// A permission it holds (`name:read|write|admin`); repeat for more.
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
        /// Which repositories it reaches [default: selected].
        #[arg(long, value_parser = ["all", "selected"])]
        repositories: Option<String>,
        /// A repository it reaches (`ORG/REPO`); repeat for more.
        #[arg(long = "repository", value_name = "REPO")]
        repository_names: Vec<String>,
        /// How long its tokens live (e.g. `1h`) [default: they never expire].
        #[arg(long)]
        token_ttl: Option<String>,
        /// How long its refresh tokens live (e.g. `30d`) [default: it has none].
        #[arg(long)]
        refresh_ttl: Option<String>,
        /// The webhooks it sends are signed.
        #[arg(long)]
        webhook_signed: bool,
        /// A CIDR range it calls from; repeat for more.
        #[arg(long = "ip", value_name = "CIDR")]
        ip_allowlist: Vec<String>,
        /// It authenticates with mutual TLS.
        #[arg(long)]
        mtls: bool,
        /// When its secret was last rotated (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        secret_rotated_at: Option<String>,
    },
    /// List integrations.
    List {
        /// Only this vendor's.
        #[arg(long)]
        vendor: Option<String>,
    },
    /// Show one integration and whether it is in force.
    Show { id: String },
    /// Compare an integration with the API access standard: one line per
    /// rule; exit 0 when compliant, 1 when not.
    Check { id: String },
    /// Ask to waive one rule for an integration (someone else grants it).
    Except {
        id: String,
        /// The rule, as `integration check` names it.
        #[arg(long)]
        rule: String,
        #[arg(long)]
        reason: String,
        /// How long it lasts (at most 90d), e.g. `30d`.
        #[arg(long, value_name = "SPAN")]
        expires_in: String,
    },
    /// Grant someone else's exception.
    GrantException {
        /// The integration.
        id: String,
        /// The exception.
        exception: String,
    },
    /// An integration's exceptions.
    Exceptions { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate the policy folder against its schema (Cedar's strict
    /// validator); exit 1 naming file, line and reason.
    Validate,
    /// Run table-driven decision tests (TOML) against the policy folder,
    /// offline; exit 1 if any case fails.
    Test {
        /// Test files [default: every *.toml in <policy-dir>/tests].
        files: Vec<PathBuf>,
    },
    /// The access matrix from the server: every identity × action × resource
    /// allowed now, and the grant or policy that allows it.
    Matrix {
        #[arg(long, value_enum, default_value_t = MatrixFormat::Md)]
        format: MatrixFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixFormat {
    Md,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write a self-contained export of the log, up to its latest signed
    /// checkpoint, read straight from the database.
    Export {
        /// The file to write (JSON Lines).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify an export offline: every leaf, the root, the checkpoint's
    /// signature. Exit 1 naming the first bad entry.
    Verify {
        /// The export file.
        file: PathBuf,
        /// The trusted verifier key (`name+id+key`), or a file holding it.
        /// Without it, the key named in the export is used.
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The first admin's email address.
    #[arg(long)]
    pub admin_email: String,
    /// The first admin's display name [default: the email's local part].
    #[arg(long)]
    pub admin_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: GATEHOUSE_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Paging for list commands.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// Page size.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Start after this cursor (from a previous page).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Follow every page.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Create a human (with --email) or service identity.
    Create {
        #[arg(long, value_parser = ["human", "service"])]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
    /// List identities.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one identity.
    Show { id: String },
    /// Suspend an identity: its tokens stop working until reactivated.
    Suspend { id: String },
    /// Reactivate a suspended identity.
    Reactivate { id: String },
    /// Deprovision an identity: revokes every token and grant; the record is kept.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; the secret is printed once.
    Create {
        /// The identity the token acts as.
        #[arg(long)]
        identity: String,
        /// Lifetime: seconds, or a number with s, m, h or d (e.g. 15m, 12h, 30d).
        #[arg(long, value_parser = parse_ttl)]
        ttl: i64,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this identity's tokens.
        #[arg(long)]
        identity: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Revoke a token.
    Revoke { id: String },
}

/// `90`, `90s`, `15m`, `12h`, `30d` → seconds.
pub fn parse_ttl(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => raw.split_at(i),
        None => (raw, "s"),
    };
    let amount: i64 = digits.parse().map_err(|_| format!("`{raw}` is not a duration like 900, 15m, 12h or 30d"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{raw}` has an unknown unit (use s, m, h or d)")),
    };
    amount.checked_mul(factor).ok_or_else(|| format!("`{raw}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttls_parse_with_units() {
        assert_eq!(parse_ttl("900"), Ok(900));
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("12h"), Ok(43_200));
        assert_eq!(parse_ttl("30d"), Ok(2_592_000));
        assert!(parse_ttl("15w").is_err());
        assert!(parse_ttl("m").is_err());
        assert!(parse_ttl("-5").is_err());
    }
}

#[derive(Debug, Subcommand)]
pub enum VendorCommand {
    /// Record a vendor (a prospect until approved).
    Add {
        name: String,
        /// `critical`, `high`, `medium` or `low`: what evidence it owes.
        #[arg(long)]
        tier: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        contract_start: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        contract_renewal: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        contract_end: String,
        /// `none`, `metadata`, `source`, `secrets` or `production`.
        #[arg(long)]
        data_access: String,
        /// A person's identity id.
        #[arg(long)]
        business_owner: Option<String>,
        /// A person's identity id.
        #[arg(long)]
        security_owner: Option<String>,
        /// What the vendor logs, in its contract's words.
        #[arg(long, value_name = "WHAT", requires = "log_retention_days")]
        logs: Option<String>,
        /// How long it keeps its logs.
        #[arg(long, value_name = "N", requires = "logs")]
        log_retention_days: Option<u32>,
        /// Its logs are tamper-evident.
        #[arg(long, requires = "logs")]
        logs_tamper_evident: bool,
    },
    /// List vendors with where they stand.
    List,
    /// Show one vendor, its evidence states and integrations.
    Show { id: String },
    /// Approve a vendor (a prospect, or a suspended one).
    Approve {
        id: String,
        #[arg(long)]
        with_conditions: bool,
    },
    /// Suspend an approved vendor.
    Suspend { id: String },
    /// Offboard a vendor for good: its integrations are retired.
    Offboard {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Every vendor: evidence states, next expiry, integrations at risk.
    Report {
        /// [default: the global --output]
        #[arg(long, value_enum)]
        format: Option<ReportFormat>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Upload a file with its metadata.
    Add {
        vendor: String,
        /// `soc2`, `bridge_letter`, `pentest`, `dpa`, `questionnaire` or `certificate`.
        #[arg(long)]
        kind: String,
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// A metadata field, `KEY=VALUE` (repeat). `trust_services` and
        /// `scope` take comma lists, `open_critical` a number,
        /// `product_in_scope` true or false; the rest are text.
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
    },
    /// A vendor's evidence with each item's state.
    List { vendor: String },
    /// Verify an evidence file offline: the checkpoint's signature by the
    /// trusted key, every proof, the order, and that its deployments,
    /// reviews and summary are what its proven entries say. Prints the
    /// summary; exit 1 naming the first bad item.
    Verify {
        /// The evidence file.
        file: PathBuf,
        /// The trusted verifier key (`name+id+key`, as `GET
        /// /api/v1/audit/public-key` answers), or a file holding it.
        #[arg(long, value_name = "KEY")]
        public_key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Open a campaign now, from a JSON definition (`--file`, the body of
    /// `POST /api/v1/reviews`) or from flags.
    Open {
        /// A JSON campaign definition; `-` reads it from stdin.
        #[arg(long, value_name = "FILE", conflicts_with_all = [
            "name", "reviewers", "fallback", "duration", "kinds", "role", "scope", "identity_kind",
            "recurrence", "on_no_response", "second_stage", "unused_after",
        ])]
        file: Option<PathBuf>,
        #[arg(long, required_unless_present = "file", requires_all = ["reviewers", "fallback", "duration"])]
        name: Option<String>,
        /// `owner`, `manager`, `role:NAME`, `group:NAME` or `identity:ID` (repeat).
        #[arg(long = "reviewer", value_name = "REVIEWER")]
        reviewers: Vec<String>,
        /// Who reviews what none of the reviewers may: `role:NAME`, `group:NAME` or `identity:ID`.
        #[arg(long)]
        fallback: Option<String>,
        /// How long reviewers have (`14d`).
        #[arg(long)]
        duration: Option<String>,
        /// What to review: `grant` (default), `token`, `signing_key` (repeat).
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only grants of this role.
        #[arg(long)]
        role: Option<String>,
        /// A glob over the grant's scope (`environment:**:production`).
        #[arg(long)]
        scope: Option<String>,
        /// `human` or `service`.
        #[arg(long)]
        identity_kind: Option<String>,
        /// `monthly`, `quarterly`, `half-yearly`, `yearly` or `Nd`.
        #[arg(long)]
        recurrence: Option<String>,
        /// What undecided items get at the deadline: `keep`, `revoke` or `suspend`.
        #[arg(long)]
        on_no_response: Option<String>,
        /// Second-stage reviewers for privileged items (repeat).
        #[arg(long = "second-stage", value_name = "REVIEWER")]
        second_stage: Vec<String>,
        /// Recommend revoking what was unused this long (`90d`).
        #[arg(long)]
        unused_after: Option<String>,
    },
    /// List campaigns (those you review, or all with `audit.read`).
    List {
        /// `open`, `closed` or `skipped`.
        #[arg(long)]
        state: Option<String>,
    },
    /// Show a campaign; `--items` adds its items and where each stands.
    Show {
        id: String,
        #[arg(long)]
        items: bool,
    },
    /// Decide an item: final in its stage. Needs a recent second factor:
    /// give `--code`, or be asked.
    Decide {
        id: String,
        /// The item's number.
        item: u32,
        #[arg(value_enum)]
        decision: ReviewDecision,
        /// keep: end the access sooner (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// narrow: a role allowing strictly less.
        #[arg(long)]
        role: Option<String>,
        /// narrow: a scope inside the current one.
        #[arg(long)]
        scope: Option<String>,
        /// delegate: another eligible reviewer (identity id).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// A TOTP code, verified first.
        #[arg(long)]
        code: Option<String>,
    },
    /// Close a campaign before its deadline: undecided items get the default.
    Close { id: String },
    /// Write a closed campaign's proof bundle for an auditor: definition,
    /// snapshot, decisions, and the entries proving them.
    Export {
        id: String,
        /// The file to write (JSON).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify a review export offline; exit 1 naming the first bad item or entry.
    Verify {
        file: PathBuf,
        /// The audit log's public key (`name+id+key`), or a file holding it.
        #[arg(long, value_name = "KEY")]
        public_key: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReviewDecision {
    Keep,
    Revoke,
    Narrow,
    Delegate,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Keep => "keep",
            ReviewDecision::Revoke => "revoke",
            ReviewDecision::Narrow => "narrow",
            ReviewDecision::Delegate => "delegate",
        }
    }
}
