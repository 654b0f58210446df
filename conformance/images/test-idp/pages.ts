/**
 * The test IdP's HTML pages. They copy the shape of Dex's templates (web/templates/password.html, logout.html in
 * github.com/dexidp/dex) — same field names, the same error box id — so that the two drivers differ only where the
 * providers really do.
 */

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for HTML content and double-quoted attributes. */
export const html = (text: string): string => text.replace(/[&<>"']/g, (char) => escapes[char] ?? char);

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${html(title)} — test IdP</title></head>
<body>
<main>
<h1>${html(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

/**
 * The password login form: posts `login` (the email) and `password` to `action`, as Dex's password.html does. With
 * `invalid`, the email is kept and an error box says the credentials were refused.
 */
export function loginPage(action: string, options: { email?: string; invalid?: boolean } = {}): string {
  const email = options.email ?? '';
  return layout(
    'Log in to Your Account',
    `<form method="post" action="${html(action)}">
  <label for="login">Email Address</label>
  <input required id="login" name="login" type="text" value="${html(email)}"${email === '' ? ' autofocus' : ''}>
  <label for="password">Password</label>
  <input required id="password" name="password" type="password"${options.invalid ? ' autofocus' : ''}>
${options.invalid ? '  <div id="login-error" role="alert">Invalid Email Address and password.</div>\n' : ''}  <button id="submit-login" type="submit">Login</button>
</form>`,
  );
}

/**
 * The RP-initiated logout confirmation. `form` is oidc-provider's own form (its action and `xsrf` field); the button
 * is put inside it, so that submitting the form posts `logout=yes` (oidc-provider's default page puts the buttons
 * outside the form, tied by a `form` attribute).
 */
export function logoutPage(form: string): string {
  const button = '<button type="submit" name="logout" value="yes">Log Out</button>';
  return layout(
    'Logging Out',
    `<p>Do you want to log out?</p>\n${form.replace('</form>', `${button}</form>`)}`,
  );
}

/** Shown after a logout that names no `post_logout_redirect_uri`. */
export const loggedOutPage = (): string =>
  layout('Logged Out', '<p>You have been successfully logged out.</p>');

/** An error page: a title and a short description. */
export const errorPage = (title: string, description: string): string =>
  layout(title, `<p id="error">${html(description)}</p>`);
