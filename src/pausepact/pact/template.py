"""The commented pact file that ``pausepact init`` and ``pausepact pact new`` start from:
every field explained where it stands (reference: docs/PACT.md)."""

from __future__ import annotations

TEMPLATE = """\
# pausepact pact file. Field reference: docs/PACT.md.
# The pact ID is the SHA-256 of this file's validated, canonical content:
# comments and formatting do not change it; any change of meaning does.

[pact]
name = "{name}"
version = 1
log = "{origin}"                       # the log's origin: first line of every checkpoint
log_key = "{log_key}"
witness_quorum = 0                     # witness cosignatures a checkpoint needs
max_skew_seconds = 300                 # statements' clocks may differ from the log's by this much
{members}
# --- thresholds: crossing any one pauses every member at that log entry -------------
[thresholds.self-improvement]          # AI speeding up AI research: capabilities doubling
indicator = "eval:metr-horizon:p50"    # ... METR-style 50% task horizons, in minutes, as
estimator = "doubling_days"            #     `pausepact risk horizons` writes them
pause_below = 60                       # faster than every 60 days,
confidence = 0.9                       # on the 90% bound, not on the point estimate
min_models = 4                         # once 4 frontier models show the trend
window_days = 90                       # over the models released in the last 90 days

[thresholds.ai-written-research]       # share of research code written by AI
indicator = "reported:ai_rd_share"     # from indicator.report statements
estimator = "sustained"
pause_above = 0.5
sustained_periods = 2                  # ... in two consecutive reporting periods

[thresholds.task-horizon]              # METR-style 50% time horizon of any model
indicator = "eval:metr-horizon:p50"    # from eval.result statements (minutes)
estimator = "latest"
pause_above = 480                      # a full working day

# --- what a pause covers, and the duties during one ---------------------------------
[pause]
covers = ["training_above_flop", "ai_rd_automation"]   # runs tagged with these are covered
training_above_flop = 1e25             # ... and any run planned above this
grace_hours = 48                       # time to wind down before duties start
attest_every_hours = 24                # each lab attests compliance this often
meter_tolerance = 0.05                 # metered vs reported compute
# report_within_hours = 24             # labs log every hour of compute within this
declare_by = ["evaluator"]             # roles that may declare a pause on their own authority

[resume]
min_days = 30
needs = ["safety.case", "safety.review"]
quorum = {{ lab = "2/3", evaluator = "1/1" }}

[amend]
quorum = {{ lab = "2/3", evaluator = "1/1" }}
"""

MEMBER = """
[[members]]
name = "{name}"
role = "{role}"
key = "{key}"
clusters = [{clusters}]
"""


def draft(name: str, origin: str, log_key: str, members: str = "") -> str:
    """The template for a log ``origin`` with key ``log_key``; ``members`` is the
    [[members]] text (empty in a draft that members are added to one by one)."""
    return TEMPLATE.format(name=name, origin=origin, log_key=log_key, members=members)
