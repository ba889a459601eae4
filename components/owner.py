"""Who is using this session: the owner of the projects and runs it makes.

With Streamlit's login configured (`[auth]` in `.streamlit/secrets.toml`), the owner is the signed-in user
("user:<email>"), the same on any browser. Without it, the owner is a private random key that the browser keeps
("key:<key>"): in a cookie the server reads when the page opens, and in `localStorage` as a second copy, both
written by a tiny component of ours. A visitor then lists and changes only what their browser made.
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

from components.runtime import rerun

COOKIE = "lc_owner"
KEY = "lc_owner_key"  # session: this browser's key
FROM_BROWSER = "lc_owner_known"  # session: the key came from the browser (not made up in this session)
KEEPER = "lc_owner_keeper"  # the component's widget key
KEY_RE = re.compile(r"[A-Za-z0-9_-]{22,64}")

# The browser's side: keeps the key in a cookie (read by the server on the next page load) and in localStorage
# (which survives a cleared cookie); a key the browser already had is reported back.
_JS = """
export default function (component) {
  const server = String(component.data || "");
  const name = "lc_owner", slot = "layercanvas.owner", ok = /^[A-Za-z0-9_-]{22,64}$/;
  let stored = null;
  try { stored = window.localStorage.getItem(slot); } catch (e) { stored = null; }
  const pair = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  const cookie = pair ? pair.slice(name.length + 1) : "";
  const key = [cookie, stored, server].find((k) => k && ok.test(k));
  if (!key) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  if (cookie !== key) document.cookie = name + "=" + key + "; path=/; max-age=315360000; SameSite=Lax" + secure;
  try { if (stored !== key) window.localStorage.setItem(slot, key); } catch (e) { /* private mode */ }
  if (key !== server) component.setStateValue("key", key);
}
"""


def login_configured() -> bool:
    """Whether Streamlit's login (OIDC in `secrets.toml`'s `[auth]`) is set up."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file, or a broken one: no login
        return False


def signed_in_user() -> str | None:
    """The signed-in user's email (or subject id), when login is configured and they signed in."""
    if not login_configured():
        return None
    try:
        if not st.user.is_logged_in:
            return None
        who = st.user.get("email") or st.user.get("sub")
    except Exception:  # noqa: BLE001 - a login set-up Streamlit cannot use: as if nobody signed in
        return None
    return str(who)[:300] if who else None


def owner_of(user: str | None, key: str) -> str:
    """The owner string stored with projects and runs."""
    return f"user:{user}" if user else f"key:{key}"


def browser_key() -> str:
    """This browser's private key: from its cookie, or a new one (the keeper component stores it)."""
    key = st.session_state.get(KEY)
    if key is None:
        cookie = (st.context.cookies or {}).get(COOKIE) if st.context is not None else None
        known = isinstance(cookie, str) and bool(KEY_RE.fullmatch(cookie))
        key = cookie if known else secrets.token_urlsafe(16)
        st.session_state[KEY], st.session_state[FROM_BROWSER] = key, known
    return key


def current_owner() -> str:
    """Whose the session's work is: the signed-in user, else this browser's key."""
    return owner_of(signed_in_user(), browser_key())


def bring_browser_work(store, me: str) -> None:
    """Work made in this browser before signing in becomes the signed-in user's (`me`, this session's owner)."""
    if me.startswith("user:"):
        store.transfer_owner(owner_of(None, browser_key()), me)


@st.cache_resource
def _keeper():
    return st.components.v2.component("layercanvas_owner", js=_JS)


def keep_browser_key(store) -> None:
    """Gives the browser its key to keep (cookie and localStorage). A browser that had a key already (its
    cookie was cleared, localStorage kept it) reports it: the session takes it, with what it made meanwhile."""
    key = browser_key()
    _keeper()(key=KEEPER, data=key, on_key_change=lambda: None, height=0)
    value = st.session_state.get(KEEPER)
    reported = value.get("key") if hasattr(value, "get") else None
    if (isinstance(reported, str) and KEY_RE.fullmatch(reported) and reported != key
            and not st.session_state.get(FROM_BROWSER)):
        store.transfer_owner(owner_of(None, key), owner_of(None, reported))
        st.session_state[KEY], st.session_state[FROM_BROWSER] = reported, True
        rerun()
