// plabel view: keyboard shortcuts for review (served from the package: the CSP allows no inline script).
// Grid: j / k move between images, Enter opens one, a accepts, r rejects the focused image's pseudo
// label, l focuses its class field to relabel. Image page: a accepts, r rejects, l focuses the
// class list to relabel.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target.tagName;
    return t === "INPUT" || t === "TEXTAREA" || t === "SELECT";
  }
  function press(root, action) {
    var form = root.querySelector("form.review");
    var button = form && form.querySelector('button[value="' + action + '"]');
    if (button) { button.click(); }
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.target.matches && e.target.matches('form.review [name="label"]')) {
      press(e.target.closest(".card") || document, "relabel");  // not the form's first button (accept)
      e.preventDefault();
      return;
    }
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
    var focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest(".card") : null;
    var scope = focused || (cards.length ? null : document);
    if (e.key === "j" || e.key === "k") {
      if (!cards.length) { return; }
      var i = focused ? cards.indexOf(focused) : -1;
      i = e.key === "j" ? Math.min(i + 1, cards.length - 1) : Math.max(i - 1, 0);
      cards[i].focus();
      e.preventDefault();
    } else if (e.key === "Enter" && focused) {
      var link = focused.querySelector("a");
      if (link) { link.click(); }
    } else if ((e.key === "a" || e.key === "r") && scope) {
      press(scope, e.key === "a" ? "accept" : "reject");
    } else if (e.key === "l" && (focused || !cards.length)) {
      var field = (focused || document).querySelector('form.review [name="label"]');
      if (field) { field.focus(); e.preventDefault(); }
    }
  });
})();
