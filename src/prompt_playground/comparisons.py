"""The use cases behind the CLI and every page: plan a comparison, start it, export a run,
promote a version, save a draft as a version. Entry points only translate input and output.

``plan`` resolves each variant once (prompt version or draft, response model, parameters) and
runs the pre-flight check on exactly that; ``start`` runs that same plan, so a label that moves
in between cannot swap in a version nobody checked. A run's meta keeps what its export needs
(fields, expected fields, variants, drafts), so an export is a function of the run id alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from prompt_playground import drafts as drafts_mod
from prompt_playground.actors import (
    Actor,
    EntryPoint,
    NotAPromoterError,
    as_actor,
    local_actor,
    promote_refusal,
)
from prompt_playground.compare_values import schema_fields
from prompt_playground.dataset_runs import dataset_meta, run_items
from prompt_playground.datasets import sample_set_digest
from prompt_playground.drafts import Draft, DraftError
from prompt_playground.errors import PlaygroundError, SamplesError
from prompt_playground.estimate import Estimate, llama_tokenizer
from prompt_playground.estimate import estimate as estimate_run
from prompt_playground.history import LabelMove
from prompt_playground.models import Result, Sample, Variant
from prompt_playground.prompts import Promotion, matching_version
from prompt_playground.runner import (
    PreparedVariant,
    Progress,
    RunKind,
    RunRequest,
    file_hash,
    prepare_variants,
)
from prompt_playground.runstore import RunRecord, RunStore
from prompt_playground.samples import PreflightReport, SampleSet, apply_mapping, preflight

if TYPE_CHECKING:
    from prompt_playground.bootstrap import Services
    from prompt_playground.export import Format, Shape
    from prompt_playground.gate import GateResult


logger = logging.getLogger(__name__)

#: Bounds of "repeats per sample" (``--repeat``).
MIN_REPEATS, MAX_REPEATS = 1, 20


class PreflightError(SamplesError):
    """The samples cannot run through the planned variants; nothing was sent."""

    def __init__(self, report: PreflightReport) -> None:
        super().__init__(
            f"Pre-flight failed, nothing was sent to the model. {report.summary()}",
            details="\n".join(p.message for p in report.errors[:50]),
        )
        self.report = report


@dataclass(frozen=True)
class Plan:
    """A comparison ready to run: every variant resolved once, the samples checked against it.

    Later work hangs its estimates (cost, time) and repeats on this; keep it plain and frozen.
    """

    prompt_name: str
    variants: tuple[PreparedVariant, ...]
    samples: tuple[Sample, ...]
    samples_name: str
    samples_hash: str
    concurrency: int
    kind: RunKind
    preflight: PreflightReport
    endpoint: str
    fields: tuple[str, ...]
    expected_fields: tuple[str, ...]
    drafts: tuple[Draft, ...] = ()
    #: The concurrency asked for, when the endpoint serves fewer calls at once best (else None).
    capped_from: int | None = None
    repeats: int = 1
    estimate: Estimate | None = None  # calls, tokens, cost and wall time before any call
    #: The Langfuse dataset the samples came from (each variant is then recorded as a dataset
    #: run) and each sample's item id.
    dataset: str | None = None
    dataset_items: Mapping[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.variants]

    @property
    def calls(self) -> int:
        return len(self.samples) * len(self.variants) * self.repeats

    def describe(self) -> str:
        """``production=v1, draft:shorter`` — what each variant resolved to."""
        return ", ".join(
            p.key if p.prompt.draft is not None else f"{p.key}=v{p.prompt.version}"
            for p in self.variants
        )


def plan(
    services: Services,
    *,
    prompt: str,
    variants: Sequence[str | Variant],
    samples: SampleSet,
    samples_hash: str | None = None,
    mapping: Mapping[str, str] | None = None,
    concurrency: int | None = None,
    kind: RunKind = "batch",
    drafts: Iterable[Draft] = (),
    first: int | None = None,
    repeats: int = 1,
    estimate: bool = True,
) -> Plan:
    """Resolve the variants once and check the samples against exactly those versions.

    Args:
        variants: labels, versions (``v3``) or drafts (``draft:<name>``); a draft not given in
            ``drafts`` is read from the run store.
        samples_hash: identifies the samples (default: a digest of the parsed samples).
        first: run only the first N samples (the Playground's "first N rows").
        repeats: how many times each (sample, variant) is called (1-20).
        estimate: attach the pre-run estimate (asks the endpoint's tokenizer, never the model).

    Raises:
        PreflightError: a variable has no column, or no row can run; nothing was sent.
        PlaygroundError: a variant or draft does not exist, a schema does not build, ...
    """
    if not MIN_REPEATS <= repeats <= MAX_REPEATS:
        raise PlaygroundError(
            f"Repeats per sample must be {MIN_REPEATS} to {MAX_REPEATS}, not {repeats}."
        )
    parsed = [v if isinstance(v, Variant) else Variant.parse(v) for v in variants]
    given = {d.name: d for d in drafts}
    for variant in parsed:
        if variant.draft is not None and variant.draft not in given:
            given[variant.draft] = services.store.get_draft(prompt, variant.draft)
    endpoint = services.endpoint()
    prepared = prepare_variants(
        services.prompts,
        prompt,
        parsed,
        default_model=endpoint.model,
        allowed_modules=services.settings.allowed_model_modules,
        small_model_bounds=endpoint.local,
        drafts=given,
    )
    mapped = apply_mapping(samples, mapping) if mapping else samples
    chosen = mapped.samples if first is None else mapped.samples[: max(1, first)]
    if first is not None:
        mapped = replace(mapped, samples=list(chosen))
    variables = list(dict.fromkeys(v for p in prepared for v in p.prompt.variables))
    report = preflight(mapped, variables=variables)
    if not report.ok:
        raise PreflightError(report)
    schemas = {p.key: p.model.schema for p in prepared}
    try:
        fields = tuple(schema_fields(schemas, [p.key for p in prepared]))
    except PlaygroundError:
        fields = ()
    if samples_hash is None:
        samples_hash = file_hash(sample_set_digest(mapped))
    requested = concurrency or services.settings.concurrency
    planned = Plan(
        prompt_name=prompt,
        variants=tuple(prepared),
        samples=tuple(chosen),
        samples_name=samples.filename,
        samples_hash=samples_hash,
        concurrency=endpoint.concurrency_for(requested),
        capped_from=requested if endpoint.concurrency_for(requested) < requested else None,
        kind=kind,
        preflight=report,
        endpoint=endpoint.display,
        fields=fields,
        expected_fields=tuple(samples.expected_fields),
        drafts=tuple(given[p.prompt.draft] for p in prepared if p.prompt.draft is not None),
        repeats=repeats,
        dataset=samples.dataset,
        dataset_items=dict(samples.dataset_items),
    )
    if not estimate:
        return planned
    return replace(planned, estimate=estimate_plan(services, planned))


def estimate_plan(services: Services, plan: Plan) -> Estimate:
    """The pre-run estimate of ``plan`` (see :mod:`prompt_playground.estimate`)."""
    endpoint = services.endpoint()
    return estimate_run(
        store=services.store,
        endpoint=endpoint,
        prompt_name=plan.prompt_name,
        variants=plan.variants,
        samples=plan.samples,
        repeats=plan.repeats,
        concurrency=plan.concurrency,
        tokenizer=llama_tokenizer(endpoint.base_url),
    )


def one_sample(
    variables: Mapping[str, str],
    messages: list[dict[str, str]] | None = None,
    *,
    name: str = "Playground",
) -> SampleSet:
    """One hand-filled row (the Playground's variables) as a samples set."""
    columns = [*variables, *(["messages"] if messages else [])]
    sample = Sample(id="playground", row=1, variables=dict(variables), messages=messages)
    return SampleSet(
        filename=name,
        samples=[sample],
        columns=columns,
        encoding="UTF-8",
        delimiter=None,
        format="json",
    )


def start(
    services: Services,
    plan: Plan,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    background: bool = False,
    max_cost_usd: float | None = None,
    actor: Actor | str | None = None,
) -> RunRecord:
    """Run the plan: in the foreground (the CLI; returns the finished run) or in the background
    worker (pages; returns the run as recorded, still running — poll the run store).

    Raises:
        CostLimitError: ``max_cost_usd`` is set and the plan's upper cost estimate exceeds it
            (or cannot be bounded); nothing was sent.
    """
    if max_cost_usd is not None:
        (plan.estimate or estimate_plan(services, plan)).check_cost(max_cost_usd)
    prepared = list(plan.variants)
    request = RunRequest(
        prompt_name=plan.prompt_name,
        variants=[Variant.parse(p.key) for p in prepared],
        samples=list(plan.samples),
        concurrency=plan.concurrency,
        samples_name=plan.samples_name,
        samples_hash=plan.samples_hash,
        kind=plan.kind,
        meta=_export_meta(plan),
        repeats=plan.repeats,
        actor=str(actor) if actor is not None else None,
    )
    after = None
    if plan.dataset is not None:

        def after(finished: RunRecord) -> None:
            record_dataset_runs(services, finished.id)

    if background:
        from prompt_playground import worker

        handle = worker.start_run(services, request, prepared, after=after)
        return services.store.get_run(handle.run_id)
    record = asyncio.run(services.runner().run(request, prepared, on_progress=on_progress))
    if after is not None:
        after(record)
        record = services.store.get_run(record.id)
    return record


def record_dataset_runs(services: Services, run_id: str) -> list[str]:
    """Record a run on a Langfuse dataset as one Langfuse dataset run per variant (one item per
    sample, linked to its trace). The outcome goes into the run's meta (``dataset_runs``: the
    names and item count, or the error): a Langfuse hiccup here never fails the run.

    Returns the dataset runs' names (none when the run was not on a dataset or it failed).
    """
    record = services.store.get_run(run_id)
    items = run_items(
        run_id,
        record.meta,
        services.store.results(run_id),
        prompt_name=record.prompt_name,
        variants=record.variants,
        sample_ids=[s.id for s in services.store.samples(run_id)],
    )
    if not items:
        return []
    names = list(dict.fromkeys(item.run_name for item in items))
    services.langfuse.flush()  # the traces the items link to, before the links
    try:
        linked = services.dataset_runs.link(items)
        outcome: dict[str, Any] = {"names": names, "items": linked}
    except PlaygroundError as exc:
        logger.warning("Run %s: dataset runs not recorded: %s", run_id, exc.message)
        outcome = {"names": [], "error": exc.message}
        names = []
    latest = services.store.get_run(run_id)
    services.store.update_meta(run_id, {**latest.meta, "dataset_runs": outcome})
    return names


def _export_meta(plan: Plan) -> dict[str, Any]:
    """What the run keeps so that its export and its drafts need nothing but the run id."""
    meta: dict[str, Any] = {
        "fields": list(plan.fields),
        "expected_fields": list(plan.expected_fields),
        "endpoint": plan.endpoint,
    }
    if plan.drafts:
        meta["drafts"] = {d.key: d.meta() for d in plan.drafts}
    if plan.dataset is not None:
        meta["dataset"] = dataset_meta(plan.dataset, plan.dataset_items)
    return meta


# -- export --------------------------------------------------------------------------------


class HasRunStore(Protocol):
    @property
    def store(self) -> RunStore: ...


@dataclass(frozen=True)
class StoreOnly:
    """Just the run store: an export needs nothing else (no Langfuse, no model)."""

    store: RunStore


def export_run(services: HasRunStore, run_id: str, *, fmt: Format, shape: Shape) -> bytes:
    """One run's export file, the same bytes whichever page or command asks: fields, their
    order and the variants come from the run's meta; rows follow the samples file's order."""
    from prompt_playground.export import export_bytes

    record = services.store.get_run(run_id)
    results = ordered_results(services, record)
    fields = run_fields(record, results)
    expected = record.meta.get("expected_fields")
    return export_bytes(
        results,
        fmt,
        shape,
        fields=fields,
        expected_fields=list(expected) if isinstance(expected, list) else None,
        variants=record.variants,
    )


def ordered_results(services: HasRunStore, record: RunRecord) -> list[Result]:
    """The run's results by sample (samples file order), then by variant (run order)."""
    position = {s.id: i for i, s in enumerate(services.store.samples(record.id))}
    rank = {v: i for i, v in enumerate(record.variants)}
    return sorted(
        services.store.results(record.id),
        key=lambda r: (
            position.get(r.sample_id, len(position)),
            rank.get(r.variant, len(rank)),
        ),
    )


def run_fields(record: RunRecord, results: Sequence[Result]) -> list[str]:
    """The run's output fields in schema order (from its meta; older runs: from its schemas,
    else the output keys seen)."""
    fields = record.meta.get("fields")
    if isinstance(fields, list) and fields:
        return [str(f) for f in fields]
    schemas = record.meta.get("schemas") or {}
    try:
        names = list(schema_fields(schemas, record.variants)) if schemas else []
    except PlaygroundError:
        names = []
    if names:
        return names
    seen: dict[str, None] = {}
    for r in results:
        seen.update(dict.fromkeys(r.output or {}))
    return list(seen)


# -- promotion and history -----------------------------------------------------------------


def actor(entry_point: EntryPoint, configured: str | None = None) -> Actor:
    """Who acts without signing in: ``PLAYGROUND_ACTOR`` (``configured``) or the OS user, and
    from where (``alice (cli)``)."""
    return local_actor(entry_point, configured)


def promotion_refusal(services: Services, *, label: str, actor: Actor | str) -> str | None:
    """Why ``actor`` may not move ``label`` (``PLAYGROUND_PROMOTERS``), or None when they may;
    pages disable the promote button with this text."""
    return promote_refusal(
        as_actor(actor),
        label,
        protected_labels=services.settings.protected_labels,
        promoters=services.settings.promoters,
    )


class EvidenceError(PlaygroundError):
    """A promotion needs evidence (or a reason to go without) that it does not have."""


@dataclass(frozen=True)
class PromotionEvidence:
    """What backs moving ``label`` to ``version``: the label's holder, and the gate on the
    latest comparison of the two (``gate`` is ``None`` when there is no such comparison)."""

    label: str
    version: int
    holder: int | None
    gate: GateResult | None
    protected: bool

    @property
    def passed(self) -> bool:
        return self.gate is not None and self.gate.passed

    @property
    def failed(self) -> bool:
        """The gate ran and failed (no comparison at all is not a failure, only a warning)."""
        return self.gate is not None and not self.gate.passed

    @property
    def needed(self) -> bool:
        """A holder exists to compare against (a new label has nothing to beat)."""
        return self.holder is not None and self.holder != self.version

    def summary(self) -> str:
        """One line for the label history and the CLI."""
        if not self.needed:
            return "no holder to compare against"
        if self.gate is None:
            return f"no comparison of v{self.version} with v{self.holder}"
        verdict = "passed" if self.gate.passed else "FAILED"
        return f"gate {verdict} on run {self.gate.run_id}"


def promotion_evidence(
    services: Services, *, prompt: str, version: int, label: str
) -> PromotionEvidence:
    """The gate for moving ``label`` to ``version``: on the latest completed comparison of that
    version (or a draft with its exact content) with the label's current holder."""
    from prompt_playground.drafts import content_hash
    from prompt_playground.gate import find_evidence, gate_run

    versions = services.prompts.versions(prompt)
    target = next((v for v in versions if v.version == version), None)
    if target is None:
        raise PlaygroundError(f"Prompt '{prompt}' has no version {version}.")
    holder = next((v.version for v in versions if label in v.labels), None)
    protected = label in services.settings.protected_labels
    if holder is None or holder == version:
        return PromotionEvidence(label, version, holder, None, protected)
    found = find_evidence(
        services.store,
        prompt,
        candidate_version=version,
        baseline_version=holder,
        candidate_hash=content_hash(target.prompt, target.config),
    )
    gate = None
    if found is not None:
        gate = gate_run(
            services.store,
            found.run_id,
            candidate=found.candidate,
            baseline=found.baseline,
            policy=services.settings.promotion_policy,
        )
    return PromotionEvidence(label, version, holder, gate, protected)


def promote(
    services: Services,
    *,
    prompt: str,
    version: int,
    label: str,
    actor: Actor | str,
    reason: str | None = None,
    evidence: PromotionEvidence | None = None,
    require_evidence: bool = False,
) -> Promotion:
    """Move ``label`` to ``version`` and record the move (who, when, from → to, reason) in the
    label history, for every entry point. Nothing is recorded when the label already is there;
    two promotions of one label are serialised, so neither records a stale previous version.

    With ``evidence``, the history note records the run, the verdict and any override reason;
    a failing gate on a protected label needs a ``reason`` (a missing comparison does not). With
    ``require_evidence``, a failing or missing gate refuses whatever the reason.

    Raises:
        NotAPromoterError: ``label`` is protected and ``actor`` is not in
            ``PLAYGROUND_PROMOTERS``; nothing moved.
        EvidenceError: the gate refuses (see above); nothing moved.
    """
    refusal = promotion_refusal(services, label=label, actor=actor)
    if refusal is not None:
        raise NotAPromoterError(f"Not promoted: {refusal}")
    reason = (reason or "").strip() or None
    if require_evidence and evidence is None:
        evidence = promotion_evidence(services, prompt=prompt, version=version, label=label)
    note = reason
    if evidence is not None and evidence.needed:
        if not evidence.passed and require_evidence:
            raise EvidenceError(
                f"Not promoted: {evidence.summary()}. Compare v{version} with "
                f"v{evidence.holder} ('{label}') first, or promote without --require-evidence."
            )
        if evidence.failed and evidence.protected and reason is None:
            raise EvidenceError(
                f"Not promoted: '{label}' is protected and the evidence does not support the "
                f"move ({evidence.summary()}). Give a reason to override."
            )
        note = f"{evidence.summary()}" + (
            f"; override: {reason}" if reason and not evidence.passed else ""
        )
        if reason and evidence.passed:
            note = f"{reason} ({note})"
    promotion, _ = services.history.promote(
        services.prompts,
        prompt,
        version,
        label,
        note=note,
        actor=str(actor),
    )
    return promotion


def history(services: Services, prompt: str) -> list[LabelMove]:
    """The label moves of ``prompt``, newest first."""
    return services.history.moves(prompt)


# -- drafts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedDraft:
    """The outcome of saving a draft: the version holding its content, and whether it is new."""

    draft: Draft
    version: int
    created: bool
    promotions: tuple[Promotion, ...] = ()


def rename_draft(services: Services, draft: Draft, name: str) -> Draft:
    """Give a draft another name (refused when the prompt has a draft by that name)."""
    name = drafts_mod.check_name(name)
    if name == draft.name:
        return draft
    if services.store.has_draft(draft.prompt_name, name):
        raise DraftError(f"Prompt '{draft.prompt_name}' already has a draft '{name}'.")
    renamed = services.store.save_draft(replace(draft, name=name))
    services.store.delete_draft(draft.prompt_name, draft.name)
    return renamed


def unique_draft_name(services: Services, prompt: str, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``… — the first name no draft of ``prompt`` has."""
    taken = {d.name for d in services.store.drafts(prompt)}
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


def save_draft(
    services: Services,
    draft: Draft,
    *,
    commit_message: str | None = None,
    labels: Sequence[str] = (),
    actor: Actor | str,
) -> SavedDraft:
    """Save a draft as a new version: exactly one version, or none when a version already holds
    the same content (the normalisation ``sync`` uses). Labels are moved through ``promote``
    (so they are in the label history); runs made on the draft are linked to the version."""
    drafts_mod.check_content(draft.type, draft.prompt, draft.config)
    wanted = list(dict.fromkeys(lbl.strip() for lbl in labels if lbl.strip()))
    for label in wanted:  # refuse before a version is created, not halfway through
        refusal = promotion_refusal(services, label=label, actor=actor)
        if refusal is not None:
            raise NotAPromoterError(f"Not saved: {refusal}")
    existing = services.prompts.versions(draft.prompt_name)
    match = matching_version(existing, draft.prompt, draft.config)
    created = match is None
    if match is None:
        base = next((v for v in existing if v.version == draft.base_version), None)
        made = services.prompts.create_version(
            draft.prompt_name,
            type=draft.type,
            prompt=draft.prompt,
            config=draft.config,
            labels=[],
            tags=base.tags if base is not None else draft.tags,
            commit_message=(commit_message or "").strip() or None,
        )
        number = made.version
    else:
        number = match.version
    promotions = tuple(
        promote(
            services,
            prompt=draft.prompt_name,
            version=number,
            label=label,
            actor=actor,
            reason=f"saved from draft '{draft.name}'",
        )
        for label in wanted
    )
    saved = draft
    if services.store.has_draft(draft.prompt_name, draft.name):
        saved = services.store.save_draft(replace(draft, saved_version=number, actor=str(actor)))
    _link_runs(services, draft, number)
    return SavedDraft(saved, number, created, promotions)


def _link_runs(services: Services, draft: Draft, version: int) -> None:
    """Runs that ran this draft's exact content learn which version it became."""
    wanted = draft.content_hash
    for record in services.store.list_runs(limit=1000):
        if record.prompt_name != draft.prompt_name:
            continue
        ran = record.meta.get("drafts") or {}
        changed = False
        for meta in ran.values():
            if (
                isinstance(meta, dict)
                and meta.get("content_hash") == wanted
                and meta.get("saved_version") != version
            ):
                meta["saved_version"] = version
                changed = True
        if changed:
            services.store.update_meta(record.id, {**record.meta, "drafts": ran})
