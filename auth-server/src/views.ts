/**
 * Server-rendered pages of the interaction flow. Every interpolated value goes through
 * `html`, which escapes it; pages carry no script.
 */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString() {
    return this.value;
  }
}

export function escapeHtml(value: unknown): string {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- html`` prints what it is given as a template literal would
  return String(value ?? '').replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

/** Tagged template: interpolations are escaped unless already SafeHtml (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, index) => {
    const parts = Array.isArray(value) ? value : [value];
    out += parts.map((part) => (part instanceof SafeHtml ? part.value : escapeHtml(part))).join('');
    out += strings[index + 1]!;
  });
  return new SafeHtml(out);
}

const STYLE = `
  body { font-family: system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
  main { max-width: 28rem; margin: 4rem auto; background: #fff; border-radius: 12px; padding: 2rem;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1 { font-size: 1.3rem; margin-top: 0; }
  .muted { color: #5b6475; font-size: .9rem; }
  .warning { background: #fff4e5; border: 1px solid #f0c36d; border-radius: 6px; padding: .5rem .75rem; font-size: .9rem; }
  ul.scopes { padding-left: 1.2rem; } ul.scopes code { font-size: .95rem; }
  .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { flex: 1; padding: .6rem; border-radius: 6px; border: 1px solid #1d2330; font-size: 1rem; cursor: pointer; }
  button.primary { background: #1d2330; color: #fff; }
  button.secondary { background: #fff; color: #1d2330; }
  a.button { flex: 1; padding: .6rem; border-radius: 6px; border: 1px solid #1d2330; font-size: 1rem; text-align: center; text-decoration: none; }
  a.button.secondary { background: #fff; color: #1d2330; }
  main.wide { max-width: 60rem; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; font-size: .95rem; }
  th, td { text-align: left; vertical-align: top; padding: .6rem .5rem; border-bottom: 1px solid #e3e6ec; }
  td form button { flex: none; padding: .35rem .8rem; font-size: .9rem; }
  caption { text-align: left; padding-bottom: .3rem; }
  th .muted, th .warning-inline { font-weight: normal; }
  th .client-id { font-size: .8rem; word-break: break-all; }
  td.when { white-space: nowrap; }
  .warning-inline { color: #8a5300; font-size: .9rem; }
  .notice { background: #e8f5e9; border: 1px solid #8bc34a; border-radius: 6px; padding: .5rem .75rem; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  :focus-visible { outline: 3px solid #3b6fd8; outline-offset: 2px; }
`;

export function layout(title: string, body: SafeHtml, options: { wide?: boolean } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body><main${options.wide ? new SafeHtml(' class="wide"') : ''}>${body}</main></body>
</html>`.value;
}

export interface ConsentView {
  uid: string;
  clientName: string;
  clientId: string;
  redirectHost: string;
  /** DCR clients describe themselves; nothing vouches for their name. */
  verified: boolean;
  /** Who vouches for a verified client: the host of its metadata document, or this server. */
  verifiedBy: string | undefined;
  scopes: { name: string; description: string }[];
  resource: string | undefined;
  userLabel: string;
}

export function consentPage(view: ConsentView): string {
  const scopes = view.scopes.map((scope) => html`<li><code>${scope.name}</code> — ${scope.description}</li>`);
  return layout(
    `Authorize ${view.clientName}`,
    html` <h1>Allow <strong>${view.clientName}</strong> to access your MCP server?</h1>
      <p class="muted">Signed in as ${view.userLabel}</p>
      ${
        view.verified
          ? html`<p class="muted">Verified: its details are published by <strong>${view.verifiedBy}</strong>.</p>`
          : html`<p class="warning">
              Unverified application: it registered itself, so its name is not checked. Continue only if you started this sign-in and recognise
              <strong>${view.redirectHost}</strong>.
            </p>`
      }
      <p>It will return to <strong>${view.redirectHost}</strong> and be able to:</p>
      <ul class="scopes">
        ${scopes}
      </ul>
      ${view.resource ? html`<p class="muted">Resource: <code>${view.resource}</code></p>` : ''}
      <form method="post" action="/interaction/${view.uid}/consent">
        <div class="actions">
          <button class="secondary" type="submit" name="decision" value="deny">Deny</button>
          <button class="primary" type="submit" name="decision" value="allow" autofocus>Allow</button>
        </div>
      </form>
      <p class="muted">Client ID: <code>${view.clientId}</code></p>`,
  );
}

/** An error page; `back` is a link the user may follow to return to the application. */
export function errorPage(title: string, message: string, back?: { href: string; label: string }): string {
  return layout(
    title,
    html`<h1>${title}</h1>
      <p>${message}</p>
      ${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}`,
  );
}
