// The sosdesk console's script: calls the JSON API with the page's CSRF value.
"use strict";

/** The CSRF value of this login, from its cookie (the page's script may read it). */
function csrfValue() {
  for (const pair of document.cookie.split(";")) {
    const [name, value] = pair.trim().split("=");
    if (name === "sosdesk_csrf") return value;
  }
  return "";
}
