// The hosted checkout page's script: totals recomputed by the broker as the customer chooses; the card sent to
// the processor's tokenization (never to Paybroker); the token paid with; the outcome followed until decided.
'use strict';
(function () {
  var data = JSON.parse(document.getElementById('pb-checkout').textContent);
  var form = document.getElementById('checkout');
  var pay = document.getElementById('pay');
  var base = '/checkout/' + encodeURIComponent(data.sessionId);

  var P = window.PaybrokerPage;
  var say = P.say;
  var value = P.value;

  function choice() {
    var c = { optionIds: [] };
    var ship = form.querySelector('input[name="shippingOptionId"]:checked');
    if (ship) c.shippingOptionId = ship.value;
    form.querySelectorAll('input[name="optionIds"]:checked').forEach(function (el) { c.optionIds.push(el.value); });
    if (data.hasHard) {
      c.address = { name: value('address-name'), line1: value('address-line1'), line2: value('address-line2'), city: value('address-city'),
        region: value('address-region'), postalCode: value('address-postalCode'), country: value('address-country') };
    } else {
      c.billingCountry = value('billing-country');
    }
    return c;
  }

  function showTotals(t) {
    document.querySelectorAll('[data-total]').forEach(function (el) {
      var v = t[el.getAttribute('data-total')];
      if (typeof v === 'string') el.textContent = v;
    });
  }

  var priced = P.pricedForm({
    form: form, pay: pay, quoteUrl: base + '/quote', choice: choice, totalMinor: data.totalMinor, totalSelector: '[data-total="total"]',
    processorUrl: data.processorUrl,
    show: function (body) {
      showTotals(body.totals);
      return body.totals.totalMinor;
    },
    send: function (c) {
      return P.postJson(base + '/pay', c).then(function (r) {
        if (r.status === 200) outcome(r.body);
        else priced.fail((r.body.error && r.body.error.message) || 'The payment could not be made. Try again.');
      });
    },
  });

  form.addEventListener('change', function (e) {
    var t = e.target;
    if (t.name === 'shippingOptionId' || t.name === 'optionIds' || t.name === 'country' || t.name === 'region' || t.name === 'billingCountry') priced.requote();
  });

  var poll = P.pollEvery(base + '/status', outcome);

  function outcome(r) {
    var o = r.outcome;
    form.setAttribute('data-outcome', o.kind);
    if (o.kind === 'approved' || o.kind === 'review') {
      say(o.message, 'success');
      pay.disabled = true;
      if (o.successUrl && o.successUrl !== '#') setTimeout(function () { window.location.assign(o.successUrl); }, 2500);
      return;
    }
    if (o.kind === 'waiting') {
      say(o.message, 'waiting');
      pay.disabled = true;
      poll();
      return;
    }
    if (o.kind === 'declined') {
      say(o.message, 'error');
      pay.disabled = false;
      document.getElementById('card-number').focus();
      return;
    }
    say(o.message || 'This checkout can take no payment now.', 'error');
    pay.disabled = o.kind === 'expired' || o.kind === 'failed';
  }

  if (data.state === 'processing') poll();
})();
