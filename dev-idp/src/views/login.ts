import { html } from './html.ts';
import { layout } from './layout.ts';

export interface LoginView {
  /** Where the form posts to. */
  action: string;
  /** Display name of the client asking for the login. */
  clientName: string;
  /** Pre-filled login (never the password). */
  login?: string;
  error?: string;
}

/** Dex's password login form: fields `login` and `password`. */
export function loginPage(view: LoginView): string {
  return layout(
    'Log in',
    html`<h1>Log in to Your Account</h1>
      <p class="muted">to continue to ${view.clientName}</p>
      ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : ''}
      <form method="post" action="${view.action}">
        <label for="login">Email Address</label>
        <input id="login" name="login" type="text" autocomplete="username" required autofocus value="${view.login ?? ''}" />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">Login</button>
      </form>`,
  );
}
