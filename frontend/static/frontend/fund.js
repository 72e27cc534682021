// The fund page's card form: Stripe.js confirms the card in the browser; the form then
// posts again so the server reads the payment's new state and records the money in escrow.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || !form.dataset.clientSecret) {
    return;
  }
  var stripe = Stripe(form.dataset.key);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  form.addEventListener("submit", function (event) {
    if (form.dataset.confirmed) {
      return;
    }
    event.preventDefault();
    stripe
      .confirmCardPayment(form.dataset.clientSecret, { payment_method: { card: card } })
      .then(function (result) {
        if (result.error) {
          document.getElementById("card-errors").textContent = result.error.message;
        } else {
          form.dataset.confirmed = "1";
          form.submit();
        }
      });
  });
})();
