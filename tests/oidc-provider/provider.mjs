// A real OpenID provider for gatehouse's SSO tests: oidc-provider with its
// development login and consent screens, one confidential client, PKCE
// required, on loopback.
//
//   node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI[,REDIRECT_URI…]
//
// Any login name is accepted (a password is asked for and ignored); the
// account's email is the login name if it contains `@`, and is verified.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUri.split(','),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: sub.includes('@') ? sub : `${sub}@unverified.example`, email_verified: sub.includes('@'), name: sub };
      },
    };
  },
  cookies: { keys: ['gatehouse-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});

// Errors the provider answers with `server_error` are printed for the test log.
provider.on('server_error', (ctx, error) => console.error('server_error', error));

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
