// The cart pages' script. On the cart: while a purchase is being made, poll until it is decided and reload. On the
// cart's checkout: totals recomputed by the broker as shipping and destination change; the card sent to the
// processor's tokenization (never to Paybroker); the token and the total the customer saw sent to buy; a changed
// total shown to be confirmed; the outcome followed until decided.
'use strict';
(function () {
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

  var status = document.getElementById('status');
  function say(message, kind) {
    if (!status) return;
    status.textContent = message;
    status.className = 'status' + (kind ? ' ' + kind : '');
  }

  function value(id) {
    var el = document.getElementById(id);
    return el ? el.value.trim() : '';
  }

  // --- the cart page ----------------------------------------------------------------------------------------
  var cartData = document.getElementById('pb-cart');
  if (cartData) {
    var cart = JSON.parse(cartData.textContent);
    if (cart.state === 'purchasing') {
      var watch = function () {
        setTimeout(function () {
          getJson('/carts/' + encodeURIComponent(cart.cartId) + '/status.json').then(function (s) {
            if (s.state === 'purchasing') watch();
            else window.location.reload();
          }).catch(watch);
        }, 1000);
      };
      watch();
    }
    return;
  }

  // --- the cart's checkout ----------------------------------------------------------------------------------
  var dataEl = document.getElementById('pb-cart-checkout');
  if (!dataEl) return;
  var data = JSON.parse(dataEl.textContent);
  var form = document.getElementById('cart-checkout');
  var pay = document.getElementById('pay');
  var base = '/carts/' + encodeURIComponent(data.cartId);
  var expectedTotalMinor = data.totalMinor;
  var seq = 0;
  var timer = null;

  function choice() {
    var shipping = {};
    data.merchants.forEach(function (m) {
      var el = form.querySelector('input[name="' + m.field + '"]:checked');
      if (el) shipping[m.id] = el.value;
    });
    var c = { shipping: shipping };
    if (data.hasHard) {
      c.address = { name: value('address-name'), line1: value('address-line1'), line2: value('address-line2'), city: value('address-city'),
        region: value('address-region'), postalCode: value('address-postalCode'), country: value('address-country') };
    } else {
      c.address = null;
    }
    return c;
  }

  function showQuote(q) {
    expectedTotalMinor = q.totalMinor;
    document.querySelectorAll('[data-grand-total]').forEach(function (el) { el.textContent = q.total; });
    q.parts.forEach(function (p) {
      document.querySelectorAll('[data-part]').forEach(function (el) {
        if (el.getAttribute('data-part') === p.merchantId) el.textContent = p.total;
      });
    });
    // (the server made and escaped this fragment)
    document.getElementById('changes').innerHTML = q.changesHtml;
    form.setAttribute('data-quoted', String(seq));
  }

  function quote() {
    var n = ++seq;
    postJson(base + '/quote', choice()).then(function (r) {
      if (n !== seq) return;
      if (r.status === 200) showQuote(r.body.quote);
      else say((r.body.error && r.body.error.message) || 'These choices cannot be priced.', 'error');
    }).catch(function () { say('The totals could not be updated; check your connection.', 'error'); });
  }

  form.addEventListener('change', function (e) {
    var t = e.target;
    if (/^ship-/.test(t.name) || t.name === 'country' || t.name === 'region') {
      clearTimeout(timer);
      timer = setTimeout(quote, 150);
    }
  });

  function fail(message) {
    say(message, 'error');
    pay.disabled = false;
  }

  var polling = null;
  function poll() {
    clearTimeout(polling);
    polling = setTimeout(function () {
      getJson(base + '/status.json').then(outcome).catch(poll);
    }, 1000);
  }

  function outcome(s) {
    form.setAttribute('data-outcome', s.state);
    if (s.state === 'purchased') {
      say('Payment approved. Your orders are placed.', 'success');
      pay.disabled = true;
      setTimeout(function () { window.location.assign(base); }, 1200);
      return;
    }
    if (s.state === 'purchasing') {
      say(s.purchase && s.purchase.state === 'awaiting_processor' ? 'We are waiting for the card network… This page updates by itself.'
        : 'Paying…', 'waiting');
      pay.disabled = true;
      poll();
      return;
    }
    if (s.lastError) {
      fail(s.lastError.message);
      document.getElementById('card-number').focus();
      return;
    }
    fail('The cart cannot be bought now (' + s.state + ').');
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    if (pay.disabled) return;
    if (!form.checkValidity()) {
      form.reportValidity();
      say('Some fields need your attention.', 'error');
      return;
    }
    pay.disabled = true;
    say('Checking your card…', 'waiting');
    var card = {
      cardNumber: value('card-number').replace(/[\s-]/g, ''),
      expMonth: Number(value('card-exp-month')),
      expYear: Number(value('card-exp-year')),
      cvc: value('card-cvc'),
    };
    postJson(data.processorUrl.replace(/\/+$/, '') + '/v1/tokens', card, { 'Idempotency-Key': uuid() }).then(function (t) {
      var token = t.body.token || t.body.id;
      if (t.status !== 201 || !token) {
        fail((t.body.error && t.body.error.message) || 'The card could not be read. Check its number and expiry.');
        return;
      }
      var c = choice();
      c.token = token;
      c.billingPostalCode = value('billing-postal');
      c.expectedTotalMinor = expectedTotalMinor;
      say('Paying…', 'waiting');
      return postJson(base + '/purchase', c).then(function (r) {
        if (r.status === 200) return outcome(r.body);
        if (r.status === 409 && r.body.quote) {
          showQuote(r.body.quote);
          fail(r.body.error.message + ' New total: ' + r.body.quote.total + '. Press Pay again to confirm it.');
          return;
        }
        fail((r.body.error && r.body.error.message) || 'The purchase could not be made. Try again.');
      });
    }).catch(function () { fail('We could not reach the payment service; check your connection and try again. Nothing was charged.'); });
  });

  if (data.state === 'purchasing') poll();
})();
