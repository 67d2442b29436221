// What the hosted pages' scripts share (loaded before checkout.js and cart.js): JSON requests to the page's own
// endpoints, the status line, and the card sent to the processor's tokenization (never to Paybroker), which answers
// the token the page then pays with.
'use strict';
window.PaybrokerPage = (function () {
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function postJson(url, body, headers) {
    var h = { 'Content-Type': 'application/json', Accept: 'application/json' };
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body), credentials: 'same-origin' }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) { return { status: res.status, body: json }; });
    });
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' }).then(function (res) { return res.json(); });
  }

  function value(id) {
    var el = document.getElementById(id);
    return el ? el.value.trim() : '';
  }

  /** Writes the page's status line (an aria-live region), styled by kind: waiting, success, error. */
  function say(message, kind) {
    var status = document.getElementById('status');
    if (!status) return;
    status.textContent = message;
    status.className = 'status' + (kind ? ' ' + kind : '');
  }

  /**
   * The card form's fields to the processor's tokenization: resolves with the token, or rejects with a message to
   * show (an unreadable card, or the processor out of reach).
   */
  function tokenize(processorUrl) {
    var card = {
      cardNumber: value('card-number').replace(/[\s-]/g, ''),
      expMonth: Number(value('card-exp-month')),
      expYear: Number(value('card-exp-year')),
      cvc: value('card-cvc'),
    };
    return postJson(processorUrl.replace(/\/+$/, '') + '/v1/tokens', card, { 'Idempotency-Key': uuid() }).then(function (t) {
      if (t.status !== 201 || !t.body.token) {
        throw new Error((t.body.error && t.body.error.message) || 'The card could not be read. Check its number and expiry.');
      }
      return t.body.token;
    }, function () {
      throw new Error('We could not reach the payment service; check your connection and try again. Nothing was charged.');
    });
  }

  return { postJson: postJson, getJson: getJson, value: value, say: say, tokenize: tokenize };
})();
