import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedBrowser } from '../scripted-browser.ts';

const FORM_PAGE = `<!DOCTYPE html><html><head><title>t</title><style>.x{}</style></head><body>
<h1>Sign   in</h1><p hidden>secret hint</p><script>var s = 1;</script>
<form method="post" action="echo?from=form">
  <input type="hidden" name="csrf" value="tok">
  <input name="login">
  <input type="checkbox" name="remember" value="yes" checked>
  <input type="checkbox" name="newsletter" value="yes">
  <select name="lang"><option value="en">English</option><option value="fr" selected>French</option></select>
  <textarea name="note">hi</textarea>
  <input name="ignored" disabled value="x">
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button>
</form>
<form action="/echo"><input name="q" value="1"><input type="submit" value="Search"></form>
</body></html>`;

describe('ScriptedBrowser', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      let body = '';
      req.on('data', (c) => (body += String(c)));
      req.on('end', () => {
        const redirect = (status: number, location: string, headers: Record<string, string | string[]> = {}) => {
          res.writeHead(status, { location, ...headers });
          res.end();
        };
        switch (url.pathname) {
          case '/set':
            return redirect(302, '/echo', { 'set-cookie': ['a=1; Path=/', 'b=2; Path=/other'] });
          case '/307':
            return redirect(307, '/echo');
          case '/303':
            return redirect(303, '/echo');
          case '/loop':
            return redirect(302, '/loop');
          case '/away':
            return redirect(302, 'http://127.0.0.1:1/callback?code=abc');
          case '/form':
            res.writeHead(200, { 'content-type': 'text/html' });
            return res.end(FORM_PAGE);
          case '/echo':
            res.writeHead(200, { 'content-type': 'application/json' });
            return res.end(JSON.stringify({ method: req.method, cookie: req.headers.cookie ?? null, query: url.search, body }));
          default:
            res.writeHead(404);
            return res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps cookies by path and follows a 302 with GET', async () => {
    const page = await new ScriptedBrowser().open(`${base}/set`);
    expect(page.url).toBe(`${base}/echo`);
    expect(page.redirects).toEqual([`${base}/echo`]);
    expect(page.json()).toMatchObject({ method: 'GET', cookie: 'a=1' });
  });

  it('keeps method and body across a 307, and turns a POST into GET on a 303', async () => {
    const browser = new ScriptedBrowser();
    const kept = await browser.open(`${base}/307`, { method: 'POST', body: new URLSearchParams({ x: '1' }) });
    expect(kept.json()).toMatchObject({ method: 'POST', body: 'x=1' });
    const changed = await browser.open(`${base}/303`, { method: 'POST', body: new URLSearchParams({ x: '1' }) });
    expect(changed.json()).toMatchObject({ method: 'GET', body: '' });
  });

  it('stops before a redirect the predicate picks, and reports it', async () => {
    const page = await new ScriptedBrowser().open(`${base}/away`, { stopAt: (u) => u.startsWith('http://127.0.0.1:1/') });
    expect(page.stoppedAt).toBe('http://127.0.0.1:1/callback?code=abc');
    expect(page.status).toBe(302);
    expect(page.url).toBe(`${base}/away`);
  });

  it('gives up after the redirect limit', async () => {
    await expect(new ScriptedBrowser({ maxRedirects: 3 }).open(`${base}/loop`)).rejects.toThrow(/more than 3 redirects/);
  });

  it('parses forms and submits the successful controls with the chosen button', async () => {
    const browser = new ScriptedBrowser();
    const page = await browser.open(`${base}/form`);
    expect(page.forms).toHaveLength(2);
    expect(page.forms[0]).toMatchObject({ method: 'POST', action: `${base}/echo?from=form` });
    expect(page.text()).toBe('Sign in English French hi Allow Deny Search');

    const denied = await browser.submitForm(page, { fields: { login: 'a@b.c' }, button: 'Deny' });
    expect(denied.json()).toMatchObject({ method: 'POST', query: '?from=form' });
    expect(new URLSearchParams((denied.json() as { body: string }).body).toString()).toBe('csrf=tok&login=a%40b.c&remember=yes&lang=fr&note=hi&decision=deny');

    const implicit = await browser.submitForm(page, { fields: { login: 'x', newsletter: 'yes' } });
    expect((implicit.json() as { body: string }).body).toBe('csrf=tok&login=x&remember=yes&newsletter=yes&lang=fr&note=hi&decision=allow');

    const search = await browser.submitForm(page, { formIndex: 1, fields: { q: 'two words' } });
    expect(search.json()).toMatchObject({ method: 'GET', query: '?q=two+words' });
  });

  it('refuses to fill a field or press a button the form does not have', async () => {
    const browser = new ScriptedBrowser();
    const page = await browser.open(`${base}/form`);
    await expect(browser.submitForm(page, { fields: { nope: '1' } })).rejects.toThrow(/no field "nope"/);
    await expect(browser.submitForm(page, { button: 'Maybe' })).rejects.toThrow(/no button "Maybe"/);
    await expect(browser.submitForm(page, { formIndex: 5 })).rejects.toThrow(/no form #5/);
  });
});
