"""What the interpreter finds, and what a failure means for the run: reported or not
(caught, conditional, a cascade), the run stopping, memoised runs that raised, problems
found in code of another file.

A part of the shape interpreter (``Interpreter`` in ``interpreter.py`` mixes it in)."""
from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from torch_lsp.analysis.shape_types import Layer, ShapeError
from torch_lsp.analysis.flow import may_catch
from torch_lsp.analysis.shape_events import ProblemKind, ShapeProblem
from torch_lsp.analysis.values import (
    FuncV, LayerV, TensorV,
)

from torch_lsp.analysis import ops as O


from torch_lsp.analysis.interp_support import (
    Finding,
    Frame,
    Reporter,
    ShapeIndex,
    _MemoRun,
)


class Reporting:
    """What the interpreter finds, and what a failure means for the run."""

    if TYPE_CHECKING:  # what the other parts of the interpreter provide
        _analyse_class: Any
        _arm_stack: Any
        _call_memo: Any
        _collecting: Any
        _forward_cache: Any
        _generic_keys: Any
        _instance_cache: Any
        _memo_runs: Any
        _run_function: Any
        _suppressed: Any
        active: Any
        cascade: Any
        catching: Any
        caught: Any
        chain: Any
        conditional: Any
        dead: Any
        depth: Any
        effects: Any
        entries: Any
        findings: Any
        flows: Any
        generic: Any
        index: Any
        instance_stack: Any
        layer_calls: Any
        local: Any
        memo_runs: Any
        module_frame: Any
        raising: Any
        reporter: Any
        steps: Any
        summary_instances: Any
        unit_class: Any

    def _report(self, finding: Any) -> None:
        exc = getattr(finding, "exc", "RuntimeError")
        for run in self._memo_runs:  # the runs under way surely raise (if this one is certain in them)
            if run.raised is False and all(f.certain for f in self.flows[run.flows:]) \
                    and not any(may_catch(hs, exc) for hs in self.catching[run.catching:]):
                run.raised = exc
        if self._arm_stack:
            arms = self._arm_stack[-1]
            flow = arms["flow"]
            if (self.flows and self.flows[-1] is flow and flow.doubt == arms["doubt"] + 1 and not flow.scarred
                    and not any(fr.scarred for fr in flow._frames) and all(f.certain for f in self.flows[:-1])
                    and not any(may_catch(hs, exc) for hs in self.catching) and not arms["found"][arms["arm"]]):
                arms["found"][arms["arm"]].append((finding, exc))  # this arm surely raises, if it runs
        outcome = self._raised_here(exc)
        if outcome == "caught":
            self.caught += 1
        elif outcome == "conditional":
            self.conditional += 1
        elif not self.local:
            self._suppressed += 1
        if outcome == "cascade":
            self.cascade += 1
        if outcome != "new":
            self._left_out(outcome, exc)
        elif self.local:  # not from the code of a followed class of another file
            finding.unit = self.unit_class
            self.reporter.add(finding)
        else:
            self._foreign_finding(finding)

    def _arms_begin(self, frame: Frame) -> Any:
        """An `if`/`else` on a condition not known is entered: its arms' errors are
        collected (see ``_report``) when the statement itself surely runs."""
        flow = frame.flow
        if flow is None or self.dead or not all(f.certain for f in self.flows) or not self.flows or self.flows[-1] is not flow:
            return None
        arms = {"flow": flow, "doubt": flow.doubt, "scarred": flow.scarred, "found": [[], []], "arm": 0, "scars": []}
        self._arm_stack.append(arms)
        return arms

    def _arm(self, arms: Any, i: int) -> None:
        """Arm ``i`` starts: the scar an earlier arm left (its own `return` or error
        ending some paths) is not this arm's; each arm's is kept for the join."""
        if arms is not None:
            flow = arms["flow"]
            if i:
                arms["scars"].append(flow.scarred)
            flow.scarred = arms["scarred"]
            arms["arm"] = i

    def _arms_end(self, arms: Any, frame: Frame) -> None:
        """Both arms surely raised (each at its own level, nothing else undecided): the
        statement raises whichever runs. The first arm's error is reported, as an error
        any run meets (``if SDPA_AVAILABLE: sdpa(q, k, v) else: q @ k.T`` with q and k
        that neither takes)."""
        if arms is None:
            return
        self._arm_stack.pop()
        flow = arms["flow"]
        arms["scars"].append(flow.scarred)
        flow.scarred = arms["scarred"] or any(arms["scars"])  # paths some arm ended: the rest runs on the others
        if not all(arms["found"]) or self.dead:
            return
        finding, exc = arms["found"][0][0]
        flow.scarred = arms["scarred"]  # every path raised: no path went on with a scar
        self._raised_here(exc)  # the unit's run stops here (dead), as for any certain error
        if self.local:
            finding.unit = self.unit_class
            self.reporter.add(finding)
        else:
            self._foreign_finding(finding)

    def _raised_here(self, exc: str | None) -> str:
        """An error (of class ``exc``; None: a shape error of some class) is raised
        here, if a run gets here. What follows for the analysis, and whether it is
        reported: "caught" (a handler catches it; on a path every run takes, the path
        ends up to that ``try``), "conditional" (a run may not get here: the branches it
        is in end here, what follows them runs only on the others), "cascade" (the
        unit's run already stopped at an earlier error), "new" (the first error surely
        raised: the unit's run stops here)."""
        self.effects += 1  # (see interp_memo)
        certain = all(f.certain for f in self.flows)
        if any(may_catch(hs, exc) for hs in self.catching):
            if certain:
                self.raising = exc or "RuntimeError"
            return "caught"
        if not certain:
            for f in self.flows:
                if f.doubt:
                    f.scarred = True
            return "conditional"
        if self.dead:
            return "cascade"
        self.dead = True
        return "new"

    def _foreign_finding(self, f: Any) -> None:
        """A problem found while running code of another file this file follows. If
        that code, analysed on its own (as its file's check does), has it too, it is
        reported there. Otherwise it comes from what this file passes (sizes,
        inputs): it is reported here, at the outermost place this file entered that
        code, with where it fails in the other file as related information."""
        if self._collecting is not None:
            self._collecting.append(f)
            return
        if not self.entries:
            return
        entry, target = self.entries[0]
        if (f.code, id(f.node)) in self._generic_findings(target):
            return
        local = self.findings.foreign_finding(self, f, entry, target)
        if local is not None:
            self.reporter.add(local)

    def _generic_findings(self, target: Any) -> set:
        """(code, id(node)) of the problems a followed class or function of another
        file has on its own: constructor parameters as symbols (or their defaults when
        its file never builds it), forward's inputs unknown."""
        key = id(target)
        hit = self._generic_keys.get(key)
        if hit is not None:
            return hit
        self._generic_keys[key] = set()  # while it runs (recursion)
        saved = (self.reporter, self.index, self.layer_calls, self.summary_instances, self._forward_cache,
                 self._instance_cache, self.instance_stack, self.chain, self.entries, self.generic, self.depth,
                 self.steps, self.catching, self.active, self.flows, self.raising, self.dead, self._memo_runs,
                 self._call_memo, self.memo_runs)
        self.reporter, self.index, self.layer_calls, self.summary_instances = Reporter(), ShapeIndex(), {}, {}
        self._call_memo, self.memo_runs = {}, 0
        self._forward_cache, self._instance_cache, self.instance_stack, self.chain, self.entries = {}, {}, [], [], []
        self.catching, self.depth, self.active, self.steps, self.flows, self.raising = [], 0, set(), 0, [], None
        self.dead, self._memo_runs = False, []
        found: list[Finding]
        self._collecting = found = []
        try:
            if isinstance(target, FuncV):
                self._run_function(target.node, [], {}, self.module_frame(), generic=True)
            else:
                self._analyse_class(target, own_file=True)
        except RecursionError:
            pass
        finally:
            (self.reporter, self.index, self.layer_calls, self.summary_instances, self._forward_cache,
             self._instance_cache, self.instance_stack, self.chain, self.entries, self.generic, self.depth,
             self.steps, self.catching, self.active, self.flows, self.raising, self.dead, self._memo_runs,
             self._call_memo, self.memo_runs) = saved
            self._collecting = None
        keys = self._generic_keys[key] = {(x.code, id(x.node)) for x in found}
        return keys

    # ------------------------------------------------------------------ memoised runs
    def _memo_begin(self) -> "_MemoRun":
        run = _MemoRun(len(self.flows), len(self.catching), self.dead)
        self._memo_runs.append(run)
        return run

    def _memo_end(self, run: "_MemoRun") -> None:
        self._memo_runs.pop()

    def _left_out(self, why: str, exc: str | None) -> None:
        """A finding is not reported (``why``: caught, conditional, cascade). A memoised
        run under way whose caller's context decided it must not be reused elsewhere:
        there the finding may be reported."""
        for run in self._memo_runs:
            if run.unsafe:
                continue
            if why == "caught":
                run.unsafe = any(may_catch(hs, exc) for hs in self.catching[:run.catching])
            elif why == "conditional":
                run.unsafe = all(f.certain for f in self.flows[run.flows:])
            else:
                run.unsafe = run.dead

    def _replay(self, raised: str | None | bool) -> None:
        """A memoised run that surely raised (its error reported when it ran): here, as
        then, the run raises."""
        if raised is not False:
            self._raised_here(raised if isinstance(raised, str) else None)

    # ------------------------------------------------------------------ findings
    def _layer_error(self, mod: LayerV, inp: TensorV, err: ShapeError, node: ast.Call, frame: Frame) -> None:
        f = self.findings.finding(self, ShapeProblem(ProblemKind.LAYER_INPUT, node, err, frame, layer=mod, tensor=inp))
        if f is not None:
            if "Attention" in mod.layer.cls or "Transformer" in mod.layer.cls:
                f.exc = None  # torch asserts some of these (AssertionError)
            self._report(f)

    def _config_error(self, layer: Layer, err: ShapeError, node: ast.Call, frame: Frame) -> None:
        f = self.findings.finding(self, ShapeProblem(ProblemKind.LAYER_CONFIG, node, err, frame, config=layer))
        if f is not None:
            f.exc = None  # ValueError, AssertionError or RuntimeError, by layer
            self._report(f)

    def _op_error(self, family: str, err: ShapeError, operands: list, node: ast.AST, frame: Frame) -> None:
        f = self.findings.finding(self, ShapeProblem(ProblemKind.OPERATION, node, err, frame, family=family,
                                                     operands=tuple(operands)))
        if f is not None:
            self._report(f)

    def _backward(self, t: TensorV, args: list, kwargs: dict, node: ast.Call) -> None:
        if args or "gradient" in kwargs or t.shape is None:
            return
        if O.is_scalar(t.shape) is False:
            f = self.findings.finding(self, ShapeProblem(ProblemKind.NON_SCALAR_BACKWARD, node, tensor=t))
            if f is not None:
                self._report(f)
