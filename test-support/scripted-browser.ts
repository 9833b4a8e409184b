// A scripted user agent for server-rendered OAuth pages, shared by the packages' end-to-end
// tests. It behaves like a browser where that matters to an OAuth flow:
//   - a cookie jar (tough-cookie), sent and updated on every request;
//   - redirects followed by itself: 301/302/303 → GET (as browsers do for POST), 307/308
//     keep method and body; up to a limit; optionally stopping before a URL a predicate
//     picks (to capture an authorization response without following it);
//   - HTML forms parsed with a real parser (cheerio) and submitted as a browser would:
//     successful controls in tree order, application/x-www-form-urlencoded, method and
//     action (or the button's formmethod/formaction) resolved against the page URL.
// It knows nothing about any particular server.

import { load, type CheerioAPI } from 'cheerio';
import { CookieJar } from 'tough-cookie';

export interface SubmitButton {
  /** The button's name; a named button adds name=value to the submission. */
  name: string | undefined;
  value: string;
  /** What a person reads on it: the <button>'s text, or an <input type=submit>'s value. */
  label: string;
  formAction: string | undefined;
  formMethod: string | undefined;
}

export interface HtmlForm {
  index: number;
  id: string | undefined;
  /** Upper-case: GET or POST. */
  method: string;
  /** Absolute URL. */
  action: string;
  enctype: string;
  /** Successful controls as the browser would submit them (buttons excluded), in tree order. */
  fields: Array<[name: string, value: string]>;
  /** Names of every enabled, named control (including unchecked boxes) that can be filled. */
  fieldNames: Set<string>;
  buttons: SubmitButton[];
}

export interface Page {
  /** URL of this response (after redirects). */
  url: string;
  status: number;
  headers: Headers;
  /** The response body as text (HTML or not). */
  html: string;
  /** Every <form> on the page. */
  forms: HtmlForm[];
  $: CheerioAPI;
  /** URLs redirected to on the way here, in order (the final one is `url`). */
  redirects: string[];
  /**
   * Set when `stopAt` matched: the redirect target that was not followed. `status` and
   * `headers` are then those of the redirect response itself.
   */
  stoppedAt: string | undefined;
  /** The text a person would read: scripts, styles and hidden elements left out, whitespace collapsed. */
  text(): string;
  json(): unknown;
}

export interface OpenOptions {
  method?: string;
  body?: string | URLSearchParams;
  headers?: Record<string, string>;
  /** Called with each redirect target before following it; true stops there (see Page.stoppedAt). */
  stopAt?: (url: string) => boolean;
}

export interface SubmitOptions {
  /** Which form, by position on the page (default 0, the first). */
  formIndex?: number;
  /** Values to fill in, by control name. Each name must be a control of the form. */
  fields?: Record<string, string>;
  /**
   * The submit button to press, matched against its label, value or name. Without it, the
   * form is submitted as by pressing Enter: the first submit button counts as pressed.
   */
  button?: string;
  stopAt?: (url: string) => boolean;
}

export interface ScriptedBrowserOptions {
  /** Redirects followed per navigation before giving up (default 20, as browsers). */
  maxRedirects?: number;
  userAgent?: string;
  jar?: CookieJar;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export class ScriptedBrowser {
  readonly jar: CookieJar;
  readonly #maxRedirects: number;
  readonly #userAgent: string;

  constructor(options: ScriptedBrowserOptions = {}) {
    this.jar = options.jar ?? new CookieJar();
    this.#maxRedirects = options.maxRedirects ?? 20;
    this.#userAgent = options.userAgent ?? 'ScriptedBrowser/1.0 (test user agent)';
  }

  /** Navigates to `url` (GET unless told otherwise), following redirects. */
  async open(url: string | URL, options: OpenOptions = {}): Promise<Page> {
    let method = (options.method ?? 'GET').toUpperCase();
    let body: string | undefined = options.body === undefined ? undefined : String(options.body);
    let headers: Record<string, string> = { ...options.headers };
    if (options.body instanceof URLSearchParams && !hasHeader(headers, 'content-type')) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    let current = new URL(url).href;
    const redirects: string[] = [];

    for (;;) {
      const response = await this.#request(current, method, headers, body);
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === null) {
        return makePage(current, response, await response.text(), redirects, undefined);
      }
      await response.body?.cancel();
      const target = new URL(location, current).href;
      if (options.stopAt?.(target)) {
        return makePage(current, response, '', redirects, target);
      }
      if (redirects.length >= this.#maxRedirects) {
        throw new Error(`ScriptedBrowser: more than ${this.#maxRedirects} redirects, last to ${target}`);
      }
      redirects.push(target);
      const keepMethod = response.status === 307 || response.status === 308;
      if (!keepMethod && method !== 'HEAD') {
        method = 'GET';
        body = undefined;
        headers = withoutBodyHeaders(headers);
      }
      current = target;
    }
  }

  /** Fills and submits a form of `page`, following redirects from the response. */
  async submitForm(page: Page, options: SubmitOptions = {}): Promise<Page> {
    const index = options.formIndex ?? 0;
    const form = page.forms[index];
    if (!form) {
      throw new Error(`ScriptedBrowser: ${page.url} has no form #${index} (it has ${page.forms.length})`);
    }

    let button: SubmitButton | undefined;
    if (options.button !== undefined) {
      const wanted = options.button;
      button = form.buttons.find((b) => b.label === wanted || b.value === wanted || b.name === wanted);
      if (!button) {
        const labels = form.buttons.map((b) => JSON.stringify(b.label)).join(', ') || 'none';
        throw new Error(`ScriptedBrowser: form #${index} has no button ${JSON.stringify(wanted)} (buttons: ${labels})`);
      }
    } else {
      button = form.buttons[0];
    }

    const entries = fill(form, options.fields ?? {});
    if (button?.name) entries.push([button.name, button.value]);

    const method = (button?.formMethod ?? form.method).toUpperCase() === 'POST' ? 'POST' : 'GET';
    const action = button?.formAction !== undefined ? new URL(button.formAction, page.url).href : form.action;
    if (method === 'POST' && form.enctype !== 'application/x-www-form-urlencoded') {
      throw new Error(`ScriptedBrowser: form enctype ${form.enctype} is not supported`);
    }

    const encoded = new URLSearchParams(entries);
    const origin = new URL(page.url).origin;
    const stopAt = options.stopAt ? { stopAt: options.stopAt } : {};
    if (method === 'GET') {
      const target = new URL(action);
      target.search = encoded.toString();
      target.hash = '';
      return this.open(target, stopAt);
    }
    return this.open(action, {
      method: 'POST',
      body: encoded,
      headers: { origin, referer: page.url },
      ...stopAt,
    });
  }

  async #request(url: string, method: string, headers: Record<string, string>, body: string | undefined) {
    const cookie = await this.jar.getCookieString(url);
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
        'user-agent': this.#userAgent,
        ...headers,
        ...(cookie ? { cookie } : {}),
      },
      ...(body !== undefined ? { body } : {}),
    });
    for (const setCookie of response.headers.getSetCookie()) {
      await this.jar.setCookie(setCookie, url, { ignoreError: true });
    }
    return response;
  }
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((h) => h.toLowerCase() === name);
}

function withoutBodyHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([h]) => !['content-type', 'content-length', 'origin'].includes(h.toLowerCase())));
}

function fill(form: HtmlForm, values: Record<string, string>): Array<[string, string]> {
  for (const name of Object.keys(values)) {
    if (!form.fieldNames.has(name)) {
      const known = [...form.fieldNames].join(', ') || 'none';
      throw new Error(`ScriptedBrowser: form #${form.index} has no field "${name}" (fields: ${known})`);
    }
  }
  // Tree order (fieldNames keeps the order controls appear in); a filled name replaces
  // every value the form had for it (ticking an unchecked box included).
  const entries: Array<[string, string]> = [];
  for (const name of form.fieldNames) {
    const filled = values[name];
    if (filled !== undefined) entries.push([name, filled]);
    else for (const entry of form.fields) if (entry[0] === name) entries.push([name, entry[1]]);
  }
  return entries;
}

function makePage(url: string, response: Response, html: string, redirects: string[], stoppedAt: string | undefined): Page {
  const isHtml = html !== '' && /html|xml/i.test(response.headers.get('content-type') ?? 'text/html');
  const $ = load(isHtml ? html : '');
  return {
    url,
    status: response.status,
    headers: response.headers,
    html,
    forms: isHtml ? parseForms($, url) : [],
    $,
    redirects,
    stoppedAt,
    text: () => (isHtml ? visibleText(html) : html.replace(/\s+/g, ' ').trim()),
    json: (): unknown => JSON.parse(html),
  };
}

function parseForms($: CheerioAPI, pageUrl: string): HtmlForm[] {
  const baseHref = $('base[href]').first().attr('href');
  const base = baseHref ? new URL(baseHref, pageUrl).href : pageUrl;

  return $('form')
    .toArray()
    .map((formEl, index): HtmlForm => {
      const form = $(formEl);
      const actionAttr = form.attr('action');
      const fields: Array<[string, string]> = [];
      const fieldNames = new Set<string>();
      const buttons: SubmitButton[] = [];

      form.find('input, select, textarea, button').each((_, el) => {
        const control = $(el);
        const tag = el.tagName.toLowerCase();
        const type = (control.attr('type') ?? (tag === 'button' ? 'submit' : 'text')).toLowerCase();
        if (control.is('[disabled]') || control.closest('fieldset[disabled]').length > 0) return;
        const name = control.attr('name');

        if ((tag === 'button' || tag === 'input') && (type === 'submit' || type === 'image')) {
          const value = control.attr('value') ?? '';
          buttons.push({
            name: name || undefined,
            value,
            label: tag === 'button' ? control.text().replace(/\s+/g, ' ').trim() : value || 'Submit',
            formAction: control.attr('formaction'),
            formMethod: control.attr('formmethod'),
          });
          return;
        }
        if (!name || tag === 'button' || ['reset', 'button', 'file'].includes(type)) return;
        fieldNames.add(name);

        if (tag === 'select') {
          const options = control.find('option');
          const selected = options.filter('[selected]');
          const chosen = control.is('[multiple]') ? selected.toArray() : [selected.get(0) ?? options.get(0)];
          for (const option of chosen) {
            if (option) fields.push([name, $(option).attr('value') ?? $(option).text().trim()]);
          }
        } else if (tag === 'textarea') {
          fields.push([name, control.text()]);
        } else if (type === 'checkbox' || type === 'radio') {
          if (control.is('[checked]')) fields.push([name, control.attr('value') ?? 'on']);
        } else {
          fields.push([name, control.attr('value') ?? '']);
        }
      });

      return {
        index,
        id: form.attr('id'),
        method: (form.attr('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET',
        action: actionAttr ? new URL(actionAttr, base).href : pageUrl,
        enctype: (form.attr('enctype') ?? 'application/x-www-form-urlencoded').toLowerCase(),
        fields,
        fieldNames,
        buttons,
      };
    });
}

type DomNode = ReturnType<CheerioAPI['root']>[number]['children'][number];

const BUTTON_INPUTS = new Set(['submit', 'button', 'reset']);

function visibleText(html: string): string {
  const $ = load(html);
  $('head, script, style, noscript, template, [hidden], [aria-hidden="true"]').remove();
  const parts: string[] = [];
  const walk = (nodes: readonly DomNode[]) => {
    for (const node of nodes) {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-comparison -- domhandler's ElementType values, which cheerio does not export
      if (node.type === 'text') {
        parts.push(node.data);
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-comparison -- as above
      } else if (node.type === 'tag') {
        if (node.tagName === 'input' && BUTTON_INPUTS.has((node.attribs.type ?? '').toLowerCase())) {
          parts.push(` ${node.attribs.value ?? ''} `);
        } else {
          // Element boundaries separate words, as layout does for blocks.
          parts.push(' ');
          walk(node.children);
          parts.push(' ');
        }
      }
    }
  };
  const root = $.root()[0];
  if (root) walk(root.children);
  return parts.join('').replace(/\s+/g, ' ').trim();
}
