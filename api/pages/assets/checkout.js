// The hosted checkout page's script: totals recomputed by the broker as the customer chooses; the card sent to
// the processor's tokenization (never to Paybroker); the token paid with; the outcome followed until decided.
'use strict';
(function () {
  var data = JSON.parse(document.getElementById('pb-checkout').textContent);
  var form = document.getElementById('checkout');
  var pay = document.getElementById('pay');
  var base = '/checkout/' + encodeURIComponent(data.sessionId);
  var quoteTimer = null;
  var quoteSeq = 0;

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

  var shownTotalMinor = data.totalMinor;
  var inflight = null;
  function quote() {
    var seq = ++quoteSeq;
    var c = choice();
    quoteTimer = null;
    inflight = P.postJson(base + '/quote', c).then(function (r) {
      if (seq !== quoteSeq) return; // (an answer to an older choice)
      if (!quoteTimer) form.removeAttribute('aria-busy');
      if (r.status === 200) {
        showTotals(r.body.totals);
        shownTotalMinor = r.body.totals.totalMinor;
        form.setAttribute('data-quoted', String(seq));
      } else {
        say((r.body.error && r.body.error.message) || 'These choices cannot be priced.', 'error');
      }
    }).catch(function () {
      form.removeAttribute('aria-busy');
      say('The totals could not be updated; check your connection.', 'error');
    });
    return inflight;
  }

  function requote() {
    clearTimeout(quoteTimer);
    form.setAttribute('aria-busy', 'true'); // (the totals are being updated)
    quoteTimer = setTimeout(quote, 150);
  }

  /** Once the totals of the customer's last change are shown (a change waiting for its quote is quoted now). */
  function quoted() {
    if (quoteTimer) {
      clearTimeout(quoteTimer);
      return quote();
    }
    return inflight || Promise.resolve();
  }

  form.addEventListener('change', function (e) {
    var t = e.target;
    if (t.name === 'shippingOptionId' || t.name === 'optionIds' || t.name === 'country' || t.name === 'region' || t.name === 'billingCountry') requote();
  });

  var polling = null;
  function poll() {
    clearTimeout(polling);
    polling = setTimeout(function () {
      P.getJson(base + '/status').then(outcome).catch(poll);
    }, 1000);
  }

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

  function fail(message) {
    say(message, 'error');
    pay.disabled = false;
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
    var seen = shownTotalMinor;
    // (a total still being updated for the last change is shown first; the customer pays only a total they saw)
    quoted().then(function () {
      if (shownTotalMinor !== seen) {
        var shown = document.querySelector('[data-total="total"]');
        throw new Error('The total is now ' + (shown ? shown.textContent : '') + ' for your choices; press Pay again to pay it.');
      }
      say('Checking your card…', 'waiting');
      return P.tokenize(data.processorUrl);
    }).then(function (token) {
      var c = choice();
      c.token = token;
      c.billingPostalCode = value('billing-postal');
      if (typeof shownTotalMinor === 'number') c.expectedTotalMinor = shownTotalMinor;
      say('Paying…', 'waiting');
      return P.postJson(base + '/pay', c).then(function (r) {
        if (r.status === 200) outcome(r.body);
        else fail((r.body.error && r.body.error.message) || 'The payment could not be made. Try again.');
      }, function () { fail('We could not reach the payment service; check your connection and try again.'); });
    }, function (err) { fail(err.message); });
  });

  if (data.state === 'processing') poll();
})();
