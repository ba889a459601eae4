"""AppTest: whose projects are whose (browser keys, signed-in users), read-only links and copies, share links,
the Projects page, and a project switch that leaves nothing of the previous one behind."""

from streamlit.testing.v1 import AppTest

from builder.model.share import encode
from builder.model.templates import template
from builder.store import Store, default_path
from components import owner, state
from tests.test_app_build import canvas_event, fresh_browser, messages, plain, run_app, widget

ALICE, BOB = fresh_browser(), fresh_browser()
C_KEY = fresh_browser()
D_KEY = fresh_browser()
E_KEY = fresh_browser()
F_KEY = fresh_browser()
G_KEY = fresh_browser()
K_KEY = fresh_browser()
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32, "client_id": "x",
        "client_secret": "y", "server_metadata_url": "https://accounts.example.org/.well-known/openid-configuration"}


def store() -> Store:
    return Store(default_path())


def test_someone_elses_project_opens_read_only_and_a_copy_is_ones_own():
    alice = run_app(browser=ALICE)
    pid = alice.session_state[state.PROJECT]
    saved = store().load_project(pid)
    bob = run_app({"project": pid}, browser=BOB)
    assert bob.session_state[state.PROJECT] == pid and bob.session_state[state.READ_ONLY]
    assert any("someone else's" in m for m in messages(bob.info))
    canvas_event(bob, kind="add", type="Dropout", x=600.0, y=0.0)  # refused: not Bob's
    assert store().load_project(pid) == saved
    assert not bob.session_state[state.GRAPH].has("dropout")
    assert store().list_projects(owner=f"key:{BOB}") == []  # opening it gave Bob nothing of his own
    bob.button(key="save_copy").click().run()
    copy = bob.session_state[state.PROJECT]
    assert copy != pid and not bob.session_state[state.READ_ONLY]
    assert store().project_info(copy)["owner"] == f"key:{BOB}"
    assert store().project_info(pid)["owner"] == f"key:{ALICE}"
    canvas_event(bob, kind="add", type="Dropout", x=600.0, y=0.0)
    assert store().load_project(copy).has("dropout") and not store().load_project(pid).has("dropout")


def test_a_share_link_always_makes_a_copy_for_the_visitor():
    alice = run_app(browser=ALICE)
    pid = alice.session_state[state.PROJECT]
    token = encode(template("mnist_cnn"))
    bob = run_app({"g": token, "project": pid}, browser=BOB)  # both in the URL: the link's graph, as a copy
    new = bob.session_state[state.PROJECT]
    assert new != pid and not bob.session_state[state.READ_ONLY]
    assert store().project_info(new)["owner"] == f"key:{BOB}"
    assert store().load_project(new).name == "mnist_cnn"
    assert store().load_project(pid).name == "iris_mlp"


def test_a_signed_in_user_finds_their_projects_on_any_browser():
    def signed_in(email: str, browser: str, query: dict | None = None) -> AppTest:
        at = AppTest.from_file("../app.py", default_timeout=120)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": email, "sub": email}
        for k, v in (query or {}).items():
            at.query_params[k] = v
        at.session_state[owner.KEY] = browser
        at.session_state[owner.FROM_BROWSER] = True
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    made_before = run_app(browser=C_KEY)  # work from before signing in, in the same browser...
    early = made_before.session_state[state.PROJECT]
    laptop = signed_in("ann@school.org", C_KEY)
    pid = laptop.session_state[state.PROJECT]
    assert store().project_info(pid)["owner"] == "user:ann@school.org"
    assert store().project_info(early)["owner"] == "user:ann@school.org"  # ...came along
    laptop.switch_page("pages/projects.py").run()
    assert any("Signed in as ann@school.org" in plain(c.value) for c in laptop.sidebar.caption), [c.value for c in laptop.sidebar.caption]
    assert any(b.label == "Sign out" for b in laptop.sidebar.button)
    tablet = signed_in("ann@school.org", D_KEY, {"project": pid})
    assert tablet.session_state[state.PROJECT] == pid and not tablet.session_state[state.READ_ONLY]
    other = signed_in("ben@school.org", D_KEY, {"project": pid})
    assert other.session_state[state.READ_ONLY]


def test_without_login_configured_the_owner_is_the_browser_key():
    at = run_app(browser=ALICE)
    assert store().project_info(at.session_state[state.PROJECT])["owner"] == f"key:{ALICE}"
    at.switch_page("pages/projects.py").run()
    assert any(b.label == "New" for b in at.button)  # the page drew
    assert not any(b.label in ("Sign in", "Sign out") for b in at.sidebar.button)


def test_projects_page_new_keeps_the_current_one_and_opening_switches_everything():
    at = run_app(browser=E_KEY)
    first = at.session_state[state.PROJECT]
    canvas_event(at, kind="add", type="Dropout", x=600.0, y=0.0)
    from components.training_panel import RUN  # a session holds it once the Train page has run (imported it)

    at.session_state[RUN] = "somerun_123"  # state of the first project's session...
    at.switch_page("pages/projects.py").run()
    at.button(key="projects_new").click().run()
    second = at.session_state[state.PROJECT]
    assert second != first and second in str(at.query_params["project"])
    assert RUN not in at.session_state  # ...not carried into the new one
    assert at.session_state[state.UNDO] == []
    mine = {p["id"] for p in store().list_projects(owner=f"key:{E_KEY}")}
    assert mine == {first, second}
    at.switch_page("pages/projects.py").run()
    at.button(key=f"open:{first}").click().run()
    assert at.session_state[state.PROJECT] == first and at.session_state[state.GRAPH].has("dropout")


def test_save_name_renames_and_closes_the_rename_popover_and_a_refused_name_keeps_it_open():
    at = run_app(browser=fresh_browser())
    pid = at.session_state[state.PROJECT]
    at.switch_page("pages/projects.py").run()
    pop = f"rename_pop:{pid}"
    at.session_state[pop] = True  # the user opened Rename (the browser sends its open state)
    at.run()
    at.text_input(key=f"rename_text:{pid}").set_value("a/b")  # Keras refuses '/'
    at.button(key=f"rename:{pid}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[pop] is True  # still open, with the reason
    assert any("cannot contain '/'" in m for m in messages(at.error))
    assert store().load_project(pid).name != "a/b"
    at.text_input(key=f"rename_text:{pid}").set_value("My digits")
    at.button(key=f"rename:{pid}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[pop] is False  # closed: the browser draws it shut
    assert not at.error
    assert store().load_project(pid).name == "My digits"
    assert at.session_state[state.GRAPH].name == "My digits"  # the open project took the name too
    assert any(m.value == "**My digits**" for m in at.markdown)


def test_the_projects_list_keeps_the_parameter_total_through_saves_that_keep_the_layers():
    from builder.kerasenv import load_keras

    load_keras()  # the Build page counts parameters once TensorFlow is in
    who = F_KEY
    at = run_app(browser=who)
    at.run()
    (p,) = store().list_projects(owner=f"key:{who}")
    assert p["params"] == 243 and p["layers"] == 4
    at.switch_page("pages/data.py").run()
    widget(at.selectbox, "data_builtin").select("wine").run()  # saved into the graph: the layers stay the same
    assert store().load_project(p["id"]).extra["training"]["dataset"] == "wine"
    assert store().list_projects(owner=f"key:{who}")[0]["params"] == 243
    at.switch_page("pages/build.py").run()
    canvas_event(at, kind="add", type="Dense", connect="output")  # new layers: counted again
    assert store().list_projects(owner=f"key:{who}")[0]["params"] not in (None, 243)


def test_projects_from_before_owners_are_listed_apart_and_opening_one_makes_it_yours():
    old = "oldproject_" + "9" * 12
    s = store()
    s.save_project(old, template("mlp").set_name("from_before_owners"))  # no owner, as an old database has
    run = s.create_run(old, template("mlp"), {}, "iris")
    who = G_KEY
    at = run_app(browser=who)
    at.switch_page("pages/projects.py").run()
    assert any("without an owner" in e.label for e in at.expander)
    assert not any(b.key == f"open:{old}" for b in at.button)  # not in the list of one's own
    at.button(key=f"claim:{old}").click().run()
    assert at.session_state[state.PROJECT] == old and not at.session_state[state.READ_ONLY]
    assert store().project_info(old)["owner"] == f"key:{who}"
    assert store().get_run(run)["owner_key"] == f"key:{who}"
    other = run_app({"project": old}, browser=fresh_browser())
    assert other.session_state[state.READ_ONLY]  # claimed: someone else now sees it read-only


def test_training_settings_are_kept_with_the_project_as_they_change():
    who = K_KEY
    at = run_app(browser=who)
    pid = at.session_state[state.PROJECT]
    at.switch_page("pages/train.py").run()
    at.number_input(key="train_epochs").set_value(7).run()
    at.number_input(key="train_split").set_value(0.35).run()
    at.number_input(key="train_seed").set_value(42).run()
    assert not at.exception, [e.value for e in at.exception]
    training = store().load_project(pid).extra["training"]
    assert (training["epochs"], training["validation_split"], training["seed"]) == (7, 0.35, 42)
    again = run_app({"project": pid}, browser=who)  # a reload
    again.switch_page("pages/train.py").run()
    assert again.number_input(key="train_epochs").value == 7
    assert again.number_input(key="train_split").value == 0.35
    assert again.number_input(key="train_seed").value == 42


def test_project_keys_are_declared_when_their_module_is_imported():
    """Opening another project clears the keys declared so far: that is every key a session can hold only if each
    module declares its keys at its top level (when it is imported, before it can set one), never later."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    declaring = 0
    for path in [*(root / "components").rglob("*.py"), *(root / "pages").glob("*.py"), root / "app.py"]:
        tree = ast.parse(path.read_text())
        top = {id(node) for stmt in tree.body for node in ast.walk(stmt)
               if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "per_project":
                assert id(node) in top or path.name == "state.py", f"{path.name}:{node.lineno} declares a key later"
                declaring += id(node) in top
    assert declaring >= 15  # the run, the weights, the data, the exports... (found, not skipped)
