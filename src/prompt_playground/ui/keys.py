"""Every session-state and widget key, namespaced per page, declared once (findable by tests)."""

from __future__ import annotations

# -- Compare -------------------------------------------------------------------------------
COMPARE_RUN_ID = "compare.run_id"
COMPARE_UPLOAD = "compare.upload"
COMPARE_USE_SAMPLE = "compare.use_sample"
COMPARE_SAMPLE_BYTES = "compare.sample_bytes"
COMPARE_SAMPLE_NAME = "compare.sample_name"
COMPARE_PROMPT = "compare.prompt"
COMPARE_VARIANTS = "compare.variants"
COMPARE_CONCURRENCY = "compare.concurrency"
COMPARE_REPEATS = "compare.repeats"
COMPARE_MAX_COST = "compare.max_cost"
COMPARE_ESTIMATE = "compare.estimate"  # (inputs, Estimate) of the last inputs estimated
COMPARE_MAPPING_PREFIX = "compare.map."
COMPARE_RUN = "compare.run"
COMPARE_CANCEL = "compare.cancel"
COMPARE_ONLY_DIFF = "compare.only_diff"
COMPARE_TABLE = "compare.table"
COMPARE_INSPECT = "compare.inspect"
COMPARE_PAGE_IDS = "compare.page_ids"  # sample ids of the table page shown (row selection → id)
COMPARE_DATASET = "compare.dataset"
COMPARE_LOAD_DATASET = "compare.load_dataset"
COMPARE_DATASET_SET = "compare.dataset_set"
COMPARE_SAVE_FORM = "compare.save_form"
COMPARE_SAVE_NAME = "compare.save_name"
COMPARE_SAVE_FOR = "compare.save_for"
COMPARE_SAVE_DATASET = "compare.save_dataset"
COMPARE_SAVE_FLASH = "compare.save_flash"
COMPARE_POST_SCORES = "compare.post_scores"
COMPARE_SCORES_FLASH = "compare.scores_flash"

# -- Playground ----------------------------------------------------------------------------
PLAY_PROMPT = "playground.prompt"
PLAY_VARIANT = "playground.variant"
PLAY_VAR_PREFIX = "playground.var."
PLAY_UPLOAD = "playground.upload"
PLAY_ROW = "playground.row"
PLAY_FILLED = "playground.filled"  # (file, row) last copied into the variables
PLAY_FILLED_CHAT = "playground.filled_chat"  # that row's chat turns (a messages column)
PLAY_RUN = "playground.run"
PLAY_RUN_ID = "playground.run_id"  # the last Run: a one-sample run in the run store
PLAY_CANCEL = "playground.cancel"
PLAY_CURRENT = (
    "playground.current"  # (prompt, variant) last shown: widget state ends on other pages
)
PLAY_EDIT_PREFIX = "playground.edit."  # + <source>.<part>: the editor's widgets per source
PLAY_RENAME_PREFIX = "playground.rename."  # + <source>: the draft name field
PLAY_MODE = "playground.mode"  # run on the variables, or on the first rows of a samples file
PLAY_FIRST_N = "playground.first_n"
PLAY_USE_SAMPLE = "playground.use_sample"
PLAY_SAMPLE_BYTES = "playground.sample_bytes"
PLAY_SAMPLE_NAME = "playground.sample_name"
PLAY_INSPECT = "playground.inspect"
PLAY_SAVE_OPEN = "playground.save_open"  # the expander with the save form
PLAY_SAVE_FORM = "playground.save_form"
PLAY_SAVE_COMMIT = "playground.save_commit"
PLAY_SAVE_LABELS = "playground.save_labels"
PLAY_SAVE = "playground.save"
PLAY_DISCARD = "playground.discard"
PLAY_FLASH = "playground.flash"
PLAY_EDIT_ERRORS = "playground.edit_errors"  # what the last autosave could not keep

# -- Versions ------------------------------------------------------------------------------
VERSIONS_PROMPT = "versions.prompt"
VERSIONS_DIFF_OLD = "versions.diff_old"
VERSIONS_DIFF_NEW = "versions.diff_new"
VERSIONS_EDIT_BASE = "versions.edit_base"
VERSIONS_EDIT_LOADED = "versions.edit_loaded"  # (prompt, version) the editor was filled from
VERSIONS_EDIT_MESSAGES = "versions.edit_messages"
VERSIONS_EDIT_CONFIG = "versions.edit_config"
VERSIONS_EDIT_SCHEMA = "versions.edit_schema"
VERSIONS_EDIT_COMMIT = "versions.edit_commit"
VERSIONS_SAVE = "versions.save"
VERSIONS_PROMOTE_VERSION = "versions.promote_version"
VERSIONS_PROMOTE_LABEL = "versions.promote_label"
VERSIONS_PROMOTE_OPEN = "versions.promote_open"
VERSIONS_PROMOTE_CONFIRM_TEXT = "versions.promote_confirm_text"
VERSIONS_PROMOTE_CONFIRM = "versions.promote_confirm"
VERSIONS_PROMOTE_REASON = "versions.promote_reason"
VERSIONS_PROMOTE_OPEN_RUN = "versions.promote_open_run"
VERSIONS_ROLLBACK_PREFIX = "versions.rollback."
VERSIONS_FLASH = "versions.flash"
VERSIONS_TABS = "versions.tabs"  # the selected tab survives the reruns a promotion makes

# -- Runs ----------------------------------------------------------------------------------
RUNS_SELECTED = "runs.selected"
RUNS_REOPEN = "runs.reopen"
RUNS_DELETE = "runs.delete"
RUNS_DELETE_CONFIRM = "runs.delete_confirm"
RUNS_CONFIRM_FOR = "runs.confirm_for"  # the run whose delete awaits confirmation
RUNS_EXPORT_FORMAT = "runs.export_format"
RUNS_FLASH = "runs.flash"
RUNS_HIDE_PLAYGROUND = "runs.hide_playground"
