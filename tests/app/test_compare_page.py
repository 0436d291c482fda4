"""Compare page: bundled samples → two labels → background run → side-by-side table."""

from __future__ import annotations

from pathlib import Path

from prompt_playground import worker
from prompt_playground.bootstrap import Services, example_samples
from prompt_playground.llm import LLM
from tests.app.helpers import assert_clean, frame_with, open_page, shown
from tests.support.fake_openai import FakeOpenAIServer


def test_compare_page_renders_with_sidebar_status(app_env: Path) -> None:
    at = open_page("pages/compare.py")
    assert at.button(key="compare.use_sample")
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "Langfuse" in sidebar
    assert "LLM" in sidebar
    assert "sk-fake" not in " ".join(c.value for c in at.sidebar.caption)


def test_uploaded_csv_compares_two_labels_side_by_side(app_env: Path, services: Services) -> None:
    at = open_page("pages/compare.py")
    at.file_uploader(key="compare.upload").set_value(
        ("chats.csv", example_samples(), "text/csv")
    ).run()
    assert_clean(at)
    assert any("Pre-flight OK: 21 of 21" in s.value for s in at.success)
    assert at.multiselect(key="compare.variants").value == ["production", "staging"]
    at.button(key="compare.run").click().run()
    assert_clean(at)
    run_id = at.session_state["compare.run_id"]
    handle = worker.get_handle(run_id)
    assert handle is not None
    assert handle.wait(60)
    at.run()
    assert_clean(at)
    record = services.store.get_run(run_id)
    assert record.status == "completed"
    assert record.done == 42
    table = at.dataframe(key="compare.table").value
    assert len(table) == 21
    assert "sentiment [production]" in table.columns
    assert "sentiment [staging]" in table.columns
    metrics = frame_with(at, "valid_rate")
    assert sorted(metrics["variant"]) == ["production", "staging"]

    at.selectbox(key="compare.inspect").set_value(table["sample_id"][0]).run()
    assert_clean(at)
    headers = [m.value for m in at.markdown]
    assert "#### production" in headers
    assert "#### staging" in headers
    assert any(m.startswith("GENERATION") for m in headers), "both traces are shown"

    at.toggle(key="compare.only_diff").set_value(True).run()
    assert_clean(at)
    differing = at.dataframe(key="compare.table").value
    assert len(differing) <= len(table)


def test_run_button_is_disabled_until_two_variants(app_env: Path) -> None:
    at = open_page("pages/compare.py")
    at.button(key="compare.use_sample").click().run()
    at.multiselect(key="compare.variants").set_value(["production"]).run()
    assert_clean(at)
    assert "compare.run" not in [b.key for b in at.button]
    assert any("at least two" in i.value for i in at.info)


def test_cancel_stops_a_live_run_and_keeps_finished_rows(
    app_env: Path, services: Services, fake_llm: FakeOpenAIServer
) -> None:
    fake_llm.state.latency_ms = 300
    try:
        at = open_page("pages/compare.py")
        at.button(key="compare.use_sample").click().run()
        at.number_input(key="compare.concurrency").set_value(1)
        at.button(key="compare.run").click().run()
        assert_clean(at)
        run_id = at.session_state["compare.run_id"]
        assert at.button(key="compare.cancel"), "a live run offers Cancel"
        assert at.get("progress"), "and shows progress"
        at.button(key="compare.cancel").click().run()
        handle = worker.get_handle(run_id)
        assert handle is not None
        assert handle.wait(30)
    finally:
        fake_llm.state.latency_ms = 0
    record = services.store.get_run(run_id)
    assert record.status == "cancelled"
    assert record.done < record.total
    at.run()
    assert_clean(at)
    assert "compare.cancel" not in [b.key for b in at.button]


def test_a_run_that_cannot_start_its_model_is_marked_failed(services: Services) -> None:
    from prompt_playground.models import Sample, Variant
    from prompt_playground.runner import Runner, RunRequest, prepare_variants

    prepared = prepare_variants(
        services.prompts,
        "chat-extract-feedback",
        [Variant(label="production")],
        default_model="fake-model",
        allowed_modules=services.settings.allowed_model_modules,
    )
    request = RunRequest(
        "chat-extract-feedback",
        [Variant(label="production")],
        [Sample(id="1", row=1, variables={"chat_json": "[]"})],
    )

    class NoModelServices:
        """Services whose model endpoint cannot be resolved (e.g. a missing local model)."""

        store = services.store

        def runner(self) -> Runner:
            return Runner(store=services.store, llm_factory=_no_model)

    handle = worker.start_run(NoModelServices(), request, prepared)  # type: ignore[arg-type]
    assert handle.wait(10)
    record = services.store.get_run(handle.run_id)
    assert record.status == "failed"
    assert record.error is not None
    assert "no model here" in record.error


def _no_model() -> LLM:
    from prompt_playground.errors import ConfigurationError

    raise ConfigurationError("no model here: set OPENAI_BASE_URL")


def test_estimate_follows_the_inputs_and_a_cost_limit_refuses_to_start(
    app_env: Path, services: Services, fake_llm: FakeOpenAIServer
) -> None:
    at = open_page("pages/compare.py")
    at.button(key="compare.use_sample").click().run()
    assert_clean(at)
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "Calls: 42" in text
    at.number_input(key="compare.repeats").set_value(3).run()
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "Calls: 126 (× 3 repeats)" in text
    fake_llm.state.clear()
    at.number_input(key="compare.max_cost").set_value(0.000001)
    at.button(key="compare.run").click().run()
    assert any("Refusing to start" in e.value for e in at.error)
    assert "compare.run_id" not in at.session_state
    assert fake_llm.state.request_count == 0


def test_repeats_show_majority_and_stability_in_each_cell(
    app_env: Path, services: Services
) -> None:
    at = open_page("pages/compare.py")
    at.button(key="compare.use_sample").click().run()
    at.number_input(key="compare.repeats").set_value(2).run()
    at.button(key="compare.run").click().run()
    assert_clean(at)
    run_id = at.session_state["compare.run_id"]
    handle = worker.get_handle(run_id)
    assert handle is not None
    assert handle.wait(60)
    at.run()
    assert_clean(at)
    assert services.store.get_run(run_id).done == 84
    table = at.dataframe(key="compare.table").value
    cells = table["sentiment [production]"].tolist()
    assert all(c.endswith(("2/2", "1/2")) for c in cells), cells
    assert any("2 repeats per sample" in c.value for c in at.caption)
    stats = frame_with(at, "p (Holm)")
    assert set(stats["field"]) >= {"sentiment"}
    assert set(stats["verdict"]) <= {"better", "worse", "no detectable difference"}
    assert (stats["ci_low"] <= stats["difference"]).all()
    assert (stats["difference"] <= stats["ci_high"]).all()
    consistency = frame_with(at, "self-consistency")
    assert set(consistency["variant"]) == {"production", "staging"}
