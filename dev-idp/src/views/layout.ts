import { html, SafeHtml } from './html.ts';

export const BANNER_TEXT = 'Development IdP — not for production';

const STYLE = `
  body { font-family: system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  .banner { background: #b3261e; color: #fff; padding: .6rem 1rem; text-align: center; font-weight: 600; }
  main { max-width: 24rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px;
         box-shadow: 0 1px 3px rgba(0,0,0,.15); }
  h1 { font-size: 1.3rem; margin-top: 0; }
  label { display: block; margin: 1rem 0 .3rem; font-weight: 500; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
  button { margin-top: 1.5rem; width: 100%; padding: .6rem; font-size: 1rem; cursor: pointer; }
  .error { background: #fdecea; color: #8a1c12; padding: .6rem; border-radius: 4px; }
  .muted { color: #5f6673; font-size: .9rem; }
  code { word-break: break-all; }
`;

export function layout(title: string, body: SafeHtml): string {
  return html`<!DOCTYPE html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>${title} · dev-idp</title>
        <style>
          ${new SafeHtml(STYLE)}
        </style>
      </head>
      <body>
        <div class="banner" role="alert">${BANNER_TEXT}</div>
        <main>${body}</main>
      </body>
    </html> `.value;
}
