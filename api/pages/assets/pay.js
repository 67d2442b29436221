// What the hosted pages' scripts share (loaded before checkout.js and cart.js): JSON requests to the page's own
// endpoints, the status line, the card sent to the processor's tokenization (never to Paybroker), which answers the
// token the page then pays with, and a form priced by the broker as the customer changes it.
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

  /**
   * A form the broker prices as the customer changes it, paid with a card token. o: form, pay (the button), quoteUrl,
   * choice() (what the customer chose), show(answer) (shows a quote's answer, returns the total it shows), totalMinor
   * (the total shown first), totalSelector (where it shows), processorUrl, send(choice with token, billing postal code
   * and the total shown) (its answer handled by the caller). While a change waits for its totals the form is aria-busy;
   * Pay first waits for them, and pays only a total the customer saw. Returns requote() (a change to price),
   * shown(totalMinor) (a total shown by other means) and fail(message) (an error shown, Pay usable again).
   */
  function pricedForm(o) {
    var seq = 0;
    var timer = null;
    var inflight = null;
    var shownTotalMinor = o.totalMinor;

    function fail(message) {
      say(message, 'error');
      o.pay.disabled = false;
    }

    function quote() {
      var n = ++seq;
      timer = null;
      inflight = postJson(o.quoteUrl, o.choice()).then(function (r) {
        if (n !== seq) return; // (an answer to an older choice)
        if (!timer) o.form.removeAttribute('aria-busy');
        if (r.status === 200) {
          shownTotalMinor = o.show(r.body);
          o.form.setAttribute('data-quoted', String(n));
        } else {
          say((r.body.error && r.body.error.message) || 'These choices cannot be priced.', 'error');
        }
      }).catch(function () {
        o.form.removeAttribute('aria-busy');
        say('The totals could not be updated; check your connection.', 'error');
      });
      return inflight;
    }

    function requote() {
      clearTimeout(timer);
      o.form.setAttribute('aria-busy', 'true'); // (the totals are being updated)
      timer = setTimeout(quote, 150);
    }

    /** Once the totals of the customer's last change are shown (a change waiting for its quote is quoted now). */
    function quoted() {
      if (timer) {
        clearTimeout(timer);
        return quote();
      }
      return inflight || Promise.resolve();
    }

    o.form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (o.pay.disabled) return;
      if (!o.form.checkValidity()) {
        o.form.reportValidity();
        say('Some fields need your attention.', 'error');
        return;
      }
      o.pay.disabled = true;
      var seen = shownTotalMinor;
      // (a total still being updated for the last change is shown first; the customer pays only a total they saw)
      quoted().then(function () {
        if (shownTotalMinor !== seen) {
          var shown = document.querySelector(o.totalSelector);
          throw new Error('The total is now ' + (shown ? shown.textContent : '') + ' for your choices; press Pay again to pay it.');
        }
        say('Checking your card…', 'waiting');
        return tokenize(o.processorUrl);
      }).then(function (token) {
        var c = o.choice();
        c.token = token;
        c.billingPostalCode = value('billing-postal');
        if (typeof shownTotalMinor === 'number') c.expectedTotalMinor = shownTotalMinor;
        say('Paying…', 'waiting');
        return o.send(c).catch(function () { fail('We could not reach the payment service; check your connection and try again.'); });
      }, function (err) { fail(err.message); });
    });

    return { requote: requote, shown: function (totalMinor) { shownTotalMinor = totalMinor; }, fail: fail };
  }

  /** Asks url again a second from now, and hands its answer on (on a failure: asks again). */
  function pollEvery(url, onAnswer) {
    var polling = null;
    return function poll() {
      clearTimeout(polling);
      polling = setTimeout(function () { getJson(url).then(onAnswer).catch(poll); }, 1000);
    };
  }

  return { postJson: postJson, getJson: getJson, value: value, say: say, tokenize: tokenize, pricedForm: pricedForm, pollEvery: pollEvery };
})();
