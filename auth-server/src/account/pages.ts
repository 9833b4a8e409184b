import { html, layout, type SafeHtml } from '../views.ts';

/** The connected-apps pages, in the layout, framing protection and CSP of every other page. */

export interface ConnectedApp {
  grantId: string;
  clientName: string;
  clientId: string;
  verified: boolean;
  verifiedBy: string | undefined;
  resources: { url: string; scopes: { name: string; description: string }[] }[];
  authorizedAt: string;
  lastUsedAt: string;
}

const verificationLabel = (app: ConnectedApp) =>
  app.verified ? html`<span class="muted">verified by ${app.verifiedBy}</span>` : html`<span class="warning-inline">unverified</span>`;

function appRow(app: ConnectedApp, csrf: string): SafeHtml {
  const resources = app.resources.map(
    (resource) =>
      html`<div>
        <code>${resource.url}</code>
        <ul class="scopes">
          ${resource.scopes.map((scope) => html`<li><code>${scope.name}</code> — ${scope.description}</li>`)}
        </ul>
      </div>`,
  );
  return html`<tr>
    <th scope="row">${app.clientName}<br />${verificationLabel(app)}<br /><span class="muted client-id">${app.clientId}</span></th>
    <td>${resources.length ? resources : html`<span class="muted">sign-in only</span>`}</td>
    <td class="when">${app.authorizedAt}</td>
    <td class="when">${app.lastUsedAt}</td>
    <td>
      <form method="post" action="/account/apps/${app.grantId}/revoke">
        <input type="hidden" name="csrf" value="${csrf}" /><button class="secondary" type="submit" aria-label="Revoke access for ${app.clientName}">
          Revoke
        </button>
      </form>
    </td>
  </tr>`;
}

export function connectedAppsPage(view: { userLabel: string; apps: ConnectedApp[]; csrf: string; notice?: string | undefined }): string {
  return layout(
    'Connected apps',
    html` <h1>Connected apps</h1>
      <p class="muted">Signed in as ${view.userLabel}</p>
      ${view.notice ? html`<p role="status" class="notice">${view.notice}</p>` : ''}
      ${
        view.apps.length
          ? html`<p>These applications can use your MCP server on your behalf. Revoking one ends its access at once; it will have to ask you again.</p>
              <table>
                <caption class="muted">
                  Applications with access
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Application</th>
                    <th scope="col">Access</th>
                    <th scope="col">Authorized</th>
                    <th scope="col">Last used</th>
                    <th scope="col"><span class="visually-hidden">Action</span></th>
                  </tr>
                </thead>
                <tbody>
                  ${view.apps.map((app) => appRow(app, view.csrf))}
                </tbody>
              </table>`
          : html`<p>No application has access to your account.</p>`
      }
      <form method="post" action="/account/signout">
        <input type="hidden" name="csrf" value="${view.csrf}" /><button class="secondary" type="submit">Sign out of this page</button>
      </form>`,
    { wide: true },
  );
}

export function confirmRevokePage(view: { app: ConnectedApp; csrf: string }): string {
  return layout(
    `Revoke ${view.app.clientName}?`,
    html` <h1>Revoke access for <strong>${view.app.clientName}</strong>?</h1>
      <p>Every token it holds stops working now, and it will have to ask you again to use your MCP server.</p>
      <form method="post" action="/account/apps/${view.app.grantId}/revoke">
        <input type="hidden" name="csrf" value="${view.csrf}" />
        <input type="hidden" name="confirm" value="yes" />
        <div class="actions">
          <a class="button secondary" href="/account">Cancel</a>
          <button class="primary" type="submit" autofocus>Revoke access</button>
        </div>
      </form>`,
  );
}
