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
      var watch = P.pollEvery('/carts/' + encodeURIComponent(cart.cartId) + '/status.json', function (s) {
        if (s.state === 'purchasing') watch();
        else window.location.reload();
      });
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

  /** Shows a quote; returns the total it shows. */
  function showQuote(q) {
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
    return q.totalMinor;
  }

  var priced = P.pricedForm({
    form: form, pay: pay, quoteUrl: base + '/quote', choice: choice, totalMinor: data.totalMinor, totalSelector: '[data-grand-total]',
    processorUrl: data.processorUrl,
    show: function (body) { return showQuote(body.quote); },
    send: function (c) {
      return P.postJson(base + '/purchase', c).then(function (r) {
        if (r.status === 200 && r.body.priceChanged) {
          priced.shown(showQuote(r.body.priceChanged.quote));
          priced.fail(r.body.priceChanged.message + ' New total: ' + r.body.priceChanged.quote.total + '. Press Pay again to confirm it.');
          return;
        }
        if (r.status === 200) return outcome(r.body);
        priced.fail((r.body.error && r.body.error.message) || 'The purchase could not be made. Try again.');
      });
    },
  });

  form.addEventListener('change', function (e) {
    var t = e.target;
    if (/^ship-/.test(t.name) || t.name === 'country' || t.name === 'region') priced.requote();
  });

  var poll = P.pollEvery(base + '/status.json', outcome);

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
      priced.fail(s.lastError.message);
      document.getElementById('card-number').focus();
      return;
    }
    priced.fail('The cart cannot be bought now (' + s.state + ').');
  }

  if (data.state === 'purchasing') poll();
})();
