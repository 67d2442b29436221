// The hosted pages' HTML helpers: every interpolated value escaped (raw() only for trusted fragments), data blocks
// that cannot close their script element, money with each currency's minor digits, and the pages' policy.
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, html, httpsOrigins, jsonData, money, raw } from '../../api/pages/html';

describe('html``', () => {
  it('escapes every interpolated string, in text and in attributes; raw and nested html are kept', () => {
    const evil = `<script>alert("x")</script>' onmouseover='y' \``;
    const out = html`<p title="${evil}">${evil}</p>${raw('<br>')}${html`<b>${'&'}</b>`}`.text;
    expect(out).toBe('<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y&#39; &#96;">'
      + '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y&#39; &#96;</p><br><b>&amp;</b>');
  });

  it('joins arrays, leaves out null, undefined and false, writes numbers', () => {
    expect(html`${['<a>', html`<i>b</i>`]}|${null}|${undefined}|${false}|${0}|${12}`.text).toBe('&lt;a&gt;<i>b</i>||||0|12');
  });

  it('a JSON data block cannot end its script element or start a comment', () => {
    const out = jsonData('d', { t: '</script><!-- & \u2028' }).text;
    expect(out).not.toMatch(/<\/script>.*<\/script>/s);
    expect(out.match(/<\/script>/g)).toHaveLength(1);
    expect(JSON.parse(out.replace(/^<script[^>]*>/, '').replace(/<\/script>$/, ''))).toEqual({ t: '</script><!-- & \u2028' });
  });
});

describe('money', () => {
  it('formats integer minor units with the currency’s own digits', () => {
    expect(money(123456, 'USD')).toBe('$1,234.56');
    expect(money(1200, 'JPY')).toBe('¥1,200');
    expect(money(1234, 'KWD')).toBe('KWD\u00a01.234');
    expect(money(5, 'EUR')).toBe('€0.05');
    expect(money(0, 'USD')).toBe('$0.00');
  });
});

describe('the policy', () => {
  it('allows images from the items’ https origins only, and scripts from the page’s own origin', () => {
    const imgs = httpsOrigins(['https://cdn.example/a.png', 'https://cdn.example/b.png', 'http://plain.example/c.png', 'javascript:alert(1)', null, 'nonsense']);
    expect(imgs).toEqual(['https://cdn.example']);
    const csp = contentSecurityPolicy({ imgOrigins: imgs, connectOrigins: ['http://127.0.0.1:4010', "'unsafe-inline'"] });
    expect(csp).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https://cdn.example; "
      + "connect-src 'self' http://127.0.0.1:4010; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  });
});
