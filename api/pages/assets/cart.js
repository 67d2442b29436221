// The cart pages' script. On the cart: while a purchase is being made, poll until it is decided and reload. On the
// cart's checkout: totals recomputed by the broker as shipping and destination change; the card sent to the
// processor's tokenization (never to Paybroker); the token and the total the customer saw sent to buy; a changed
// total shown to be confirmed; the outcome followed until decided.
'use strict';
(function () {
  var P = window.PaybrokerPage;
  var say = P.say;
  var value = P.value;

  // --- the cart page ----------------------------------------------------------------------------------------
  var cartData = document.getElementById('pb-cart');
  if (cartData) {
    var cart = JSON.parse(cartData.textContent);
    if (cart.state === 'purchasing') {
      var watch = function () {
        setTimeout(function () {
          P.getJson('/carts/' + encodeURIComponent(cart.cartId) + '/status.json').then(function (s) {
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
    document.querySelectorAll('[data-unit-price]').forEach(function (el) {
      var v = q.unitPrices && q.unitPrices[el.getAttribute('data-unit-price')];
      if (typeof v === 'string') el.textContent = v;
    });
    // (the server made and escaped this fragment)
    document.getElementById('changes').innerHTML = q.changesHtml;
    form.setAttribute('data-quoted', String(seq));
  }

  var inflight = null;
  function quote() {
    var n = ++seq;
    timer = null;
    inflight = P.postJson(base + '/quote', choice()).then(function (r) {
      if (n !== seq) return;
      if (!timer) form.removeAttribute('aria-busy');
      if (r.status === 200) showQuote(r.body.quote);
      else say((r.body.error && r.body.error.message) || 'These choices cannot be priced.', 'error');
    }).catch(function () {
      form.removeAttribute('aria-busy');
      say('The totals could not be updated; check your connection.', 'error');
    });
    return inflight;
  }

  /** Once the totals of the customer's last change are shown (a change waiting for its quote is quoted now). */
  function quoted() {
    if (timer) {
      clearTimeout(timer);
      return quote();
    }
    return inflight || Promise.resolve();
  }

  form.addEventListener('change', function (e) {
    var t = e.target;
    if (/^ship-/.test(t.name) || t.name === 'country' || t.name === 'region') {
      clearTimeout(timer);
      form.setAttribute('aria-busy', 'true'); // (the totals are being updated)
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
      P.getJson(base + '/status.json').then(outcome).catch(poll);
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
    var seen = expectedTotalMinor;
    // (a total still being updated for the last change is shown first; the customer pays only a total they saw)
    quoted().then(function () {
      if (expectedTotalMinor !== seen) {
        var shown = document.querySelector('[data-grand-total]');
        throw new Error('The total is now ' + (shown ? shown.textContent : '') + ' for your choices; press Pay again to pay it.');
      }
      say('Checking your card…', 'waiting');
      return P.tokenize(data.processorUrl);
    }).then(function (token) {
      var c = choice();
      c.token = token;
      c.billingPostalCode = value('billing-postal');
      c.expectedTotalMinor = expectedTotalMinor;
      say('Paying…', 'waiting');
      return P.postJson(base + '/purchase', c).then(function (r) {
        if (r.status === 200 && r.body.priceChanged) {
          showQuote(r.body.priceChanged.quote);
          fail(r.body.priceChanged.message + ' New total: ' + r.body.priceChanged.quote.total + '. Press Pay again to confirm it.');
          return;
        }
        if (r.status === 200) return outcome(r.body);
        fail((r.body.error && r.body.error.message) || 'The purchase could not be made. Try again.');
      }, function () { fail('We could not reach the payment service; check your connection and try again.'); });
    }, function (err) { fail(err.message); });
  });

  if (data.state === 'purchasing') poll();
})();
