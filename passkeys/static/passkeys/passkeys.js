/* Passkey ceremonies for the suite's pages. No framework, no inline script (CSP).
 *
 * Buttons carry data-passkey="register|signup|login|second-factor|reauth" with
 * data-options-url and data-verify-url (and, to sign up, data-link: the page's reference to
 * the emailed link its session keeps); a container with data-passkey-autofill starts
 * conditional UI (passkeys offered in the email field's autofill) where the browser
 * supports it. The words it shows come in the page's language from an element marked
 * data-passkey-messages (passkeys/_script.html), English where a page has none.
 */
(function () {
  "use strict";
  if (window.authsuitePasskeys) { return; }
  window.authsuitePasskeys = true;

  var ENGLISH = {
    failed: "Something went wrong.",
    cancelled: "The passkey request was cancelled or timed out.",
    alreadyRegistered: "This device already has a passkey for your account.",
    insecureOrigin: "Passkeys do not work on this address.",
    unsupported: "This browser does not support passkeys.",
    prompt: "Follow your browser's prompt\u2026",
    promptCreate: "Follow your browser's prompt to create the passkey\u2026",
    checking: "Checking your passkey\u2026",
    saving: "Saving your passkey\u2026"
  };

  function text(key) {
    var element = document.querySelector("[data-passkey-messages]");
    return (element && element.dataset[key]) || ENGLISH[key];
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function b64urlToBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function bufferToB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = b64urlToBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: b64urlToBuffer(json.user.id) });
    options.excludeCredentials = (json.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: b64urlToBuffer(c.id) });
    });
    return options;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = b64urlToBuffer(json.challenge);
    options.allowCredentials = (json.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: b64urlToBuffer(c.id) });
    });
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") { return credential.toJSON(); }
    var response = credential.response;
    var json = {
      id: credential.id, rawId: bufferToB64url(credential.rawId), type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: { clientDataJSON: bufferToB64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      json.response.attestationObject = bufferToB64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = bufferToB64url(response.authenticatorData);
      json.response.signature = bufferToB64url(response.signature);
      json.response.userHandle = response.userHandle ? bufferToB64url(response.userHandle) : null;
    }
    return json;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var message = data && data.error ? data.error.message : text("failed");
          throw new Error(message);
        }
        return data;
      });
    });
  }

  function statusFor(element) {
    var scope = element.closest("div, main") || document;
    return scope.querySelector(".passkey-status") || document.querySelector(".passkey-status");
  }

  function show(element, message, isError) {
    var status = statusFor(element);
    if (!status) { return; }
    status.textContent = message;
    status.classList.toggle("error", !!isError);
  }

  function explain(error) {
    if (!error) { return text("failed"); }
    if (error.name === "NotAllowedError") { return text("cancelled"); }
    if (error.name === "InvalidStateError") { return text("alreadyRegistered"); }
    if (error.name === "SecurityError") { return text("insecureOrigin"); }
    return error.message || text("failed");
  }

  function supported() { return !!(window.PublicKeyCredential && navigator.credentials); }

  var pendingConditional = null;

  function authenticate(element, mediation) {
    var optionsUrl = element.getAttribute("data-options-url");
    var verifyUrl = element.getAttribute("data-verify-url");
    var next = element.getAttribute("data-next") || "";
    return post(optionsUrl).then(function (json) {
      var request = { publicKey: requestOptions(json) };
      if (mediation) {
        pendingConditional = new AbortController();
        request.mediation = mediation;
        request.signal = pendingConditional.signal;
      }
      return navigator.credentials.get(request);
    }).then(function (credential) {
      show(element, text("checking"));
      return post(verifyUrl, { credential: credentialJSON(credential), next: next });
    }).then(function (result) {
      window.location.assign(result.redirect || "/");
    });
  }

  function register(element) {
    var nameInput = document.getElementById(element.getAttribute("data-name-input") || "");
    // The sign-up page holds no token: its session keeps the link, and the page posts its
    // reference to it (data-link), which the server matches against the link kept.
    var link = element.getAttribute("data-link");
    var extra = link ? { link: link } : {};
    return post(element.getAttribute("data-options-url"), extra).then(function (json) {
      return navigator.credentials.create({ publicKey: creationOptions(json) });
    }).then(function (credential) {
      show(element, text("saving"));
      return post(element.getAttribute("data-verify-url"), Object.assign({
        credential: credentialJSON(credential), name: nameInput ? nameInput.value : ""
      }, extra));
    }).then(function (result) {
      if (result && result.redirect) { window.location.assign(result.redirect); }
      else { window.location.reload(); }
    });
  }

  function onClick(event) {
    var element = event.target.closest("[data-passkey]");
    if (!element) { return; }
    event.preventDefault();
    if (!supported()) { show(element, text("unsupported"), true); return; }
    if (pendingConditional) { pendingConditional.abort(); pendingConditional = null; }
    var kind = element.getAttribute("data-passkey");
    element.disabled = true;
    var creating = kind === "register" || kind === "signup";
    show(element, text(creating ? "promptCreate" : "prompt"));
    var run = creating ? register(element) : authenticate(element, null);
    run.catch(function (error) {
      element.disabled = false;
      show(element, explain(error), true);
    });
  }

  function startAutofill() {
    var container = document.querySelector("[data-passkey-autofill]");
    if (!container || !supported() || !PublicKeyCredential.isConditionalMediationAvailable) { return; }
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) { return; }
      authenticate(container, "conditional").catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        show(container, explain(error), true);
      });
    });
  }

  document.addEventListener("click", onClick);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAutofill);
  } else {
    startAutofill();
  }
})();
