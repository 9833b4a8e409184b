import { html } from './html.ts';
import { layout } from './layout.ts';

export interface ErrorView {
  title: string;
  /** OAuth error code, when there is one (e.g. invalid_client). */
  error?: string;
  description?: string;
}

export function errorPage(view: ErrorView): string {
  return layout(
    view.title,
    html`<h1>${view.title}</h1>
      ${view.error ? html`<p>Error: <code class="oauth-error">${view.error}</code></p>` : ''}
      ${view.description ? html`<p class="error-description">${view.description}</p>` : ''}`,
  );
}
