// The sign-in box of the studio and ops pages. In the embedded development setup the service
// issues tokens itself (POST /api/dev/token); otherwise a token from the identity provider is pasted.
import { currentIdentity, devSignIn, hasRole, signOut, useToken, type Identity } from './auth';
import { el, errorText } from './ui';

export interface SignInOptions {
  role: string;
  devTokens: boolean;
  onChange: (id: Identity | null) => void;
}

export function mountSignIn(root: HTMLElement, opts: SignInOptions): Identity | null {
  const render = () => {
    const id = currentIdentity();
    root.replaceChildren(id ? signedIn(id) : signInForms());
    return id;
  };

  const signedIn = (id: Identity) => {
    const out = el('button', { type: 'button', class: 'link' }, 'Sign out');
    out.addEventListener('click', () => { signOut(); render(); opts.onChange(null); });
    const missing = hasRole(id, opts.role) ? null : el('p', { class: 'error', role: 'alert' }, `This account lacks the "${opts.role}" role.`);
    return el('div', { class: 'signed-in' }, el('p', {}, 'Signed in as ', el('strong', {}, id.name), ' ', out), missing);
  };

  const signInForms = () => {
    const error = el('p', { class: 'error', role: 'alert' });
    const box = el('div', { class: 'signin-forms' });
    if (opts.devTokens) {
      const name = el('input', { id: 'signin-name', name: 'name', required: true, maxlength: 40, autocomplete: 'nickname' });
      const form = el('form', { 'aria-label': 'Sign in (development)' },
        el('label', { for: 'signin-name' }, 'Your name'), name,
        el('button', { type: 'submit', class: 'primary' }, 'Sign in'),
        el('p', { class: 'hint' }, 'Development sign-in: the service issues a token for this name.'));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const id = await devSignIn(name.value.trim(), [opts.role]);
          render();
          opts.onChange(id);
        } catch (err) { error.textContent = `Sign-in failed: ${errorText(err)}`; }
      });
      box.append(form);
    }
    const token = el('textarea', { id: 'signin-token', name: 'token', rows: 2, spellcheck: 'false', autocomplete: 'off' });
    const paste = el('form', { 'aria-label': 'Sign in with a token' },
      el('label', { for: 'signin-token' }, 'Access token'), token,
      el('button', { type: 'submit' }, 'Use token'));
    paste.addEventListener('submit', (e) => {
      e.preventDefault();
      const id = useToken(token.value);
      if (!id) { error.textContent = 'That is not a valid, unexpired token.'; return; }
      render();
      opts.onChange(id);
    });
    box.append(opts.devTokens ? el('details', {}, el('summary', {}, 'Have a token from your identity provider?'), paste) : paste, error);
    return box;
  };

  return render();
}
