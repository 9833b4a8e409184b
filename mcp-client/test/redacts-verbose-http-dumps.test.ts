import { afterEach, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { REDACTED, Trace, redactBody, redactHeaders, redactJson, redactUrl } from '../src/trace.ts';
import { listen, readBody, sendJson } from './fixtures/servers.ts';
import type { Running } from './fixtures/servers.ts';

let server: Running | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('--verbose HTTP dumps never show credentials', () => {
  it('redacts form bodies (code, code_verifier, refresh_token, client_secret) but keeps the rest', () => {
    const out = redactBody(
      'grant_type=authorization_code&code=C1&code_verifier=V1&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&client_secret=S1&refresh_token=R1',
      'application/x-www-form-urlencoded',
    );
    const params = new URLSearchParams(out);
    for (const key of ['code', 'code_verifier', 'client_secret', 'refresh_token']) expect(params.get(key)).toBe(REDACTED);
    expect(params.get('grant_type')).toBe('authorization_code');
    expect(params.get('redirect_uri')).toBe('http://127.0.0.1/cb');
  });

  it('redacts JSON bodies deeply (access_token, refresh_token, id_token, client_secret)', () => {
    const out = JSON.parse(
      redactBody(
        JSON.stringify({ access_token: 'A', token_type: 'Bearer', nested: { refresh_token: 'R', id_token: 'I' }, list: [{ client_secret: 'S' }] }),
        'application/json',
      ),
    );
    expect(out).toEqual({
      access_token: REDACTED,
      token_type: 'Bearer',
      nested: { refresh_token: REDACTED, id_token: REDACTED },
      list: [{ client_secret: REDACTED }],
    });
    expect(redactJson({ code: 'x', scope: 'y' })).toEqual({ code: REDACTED, scope: 'y' });
    // A JSON-RPC error code is not a credential.
    expect(redactJson({ error: { code: -32600, message: 'bad' } })).toEqual({ error: { code: -32600, message: 'bad' } });
  });

  it('redacts Authorization headers but keeps the scheme, and secret query parameters', () => {
    expect(redactHeaders({ Authorization: 'Bearer abc.def', Accept: 'application/json' })).toEqual({
      authorization: `Bearer ${REDACTED}`,
      accept: 'application/json',
    });
    expect(redactHeaders({ authorization: 'Basic dXNlcjpwYXNz' })).toEqual({ authorization: `Basic ${REDACTED}` });
    expect(redactUrl('http://127.0.0.1:5/callback?code=SECRET&state=s')).toBe(`http://127.0.0.1:5/callback?code=${encodeURIComponent(REDACTED)}&state=s`);
  });

  it('a traced token request dumps only redacted values on stderr and nothing on stdout', async () => {
    server = await listen(async (req, res) => {
      await readBody(req);
      sendJson(res, 200, { access_token: 'ACCESS-XYZ', refresh_token: 'REFRESH-XYZ', id_token: 'ID-XYZ', token_type: 'Bearer', expires_in: 60 });
    });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const trace = new Trace({ json: true, verbose: true, stdout, stderr });
    const res = await trace.fetch(`${server.origin}/token?code=CODE-XYZ`, {
      method: 'POST',
      headers: { authorization: 'Basic Q0xJRU5UOlNFQ1JFVA==', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'CODE-XYZ', code_verifier: 'VERIFIER-XYZ', client_secret: 'SECRET-XYZ' }),
    });
    expect(((await res.json()) as { access_token: string }).access_token).toBe('ACCESS-XYZ'); // the caller still gets the real body
    const dump = String(stderr.read() ?? '');
    expect(dump).toContain('POST');
    expect(dump).toContain(REDACTED);
    for (const secret of ['ACCESS-XYZ', 'REFRESH-XYZ', 'ID-XYZ', 'CODE-XYZ', 'VERIFIER-XYZ', 'SECRET-XYZ', 'Q0xJRU5UOlNFQ1JFVA=='])
      expect(dump).not.toContain(secret);
    expect(stdout.read()).toBeNull();
    expect(trace.requests).toEqual([expect.objectContaining({ method: 'POST', status: 200 })]);
    expect(trace.requests[0]?.url).not.toContain('CODE-XYZ');
  });
});
