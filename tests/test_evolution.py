import json

import numpy as np
import pytest

from common.errors import UserError
from common.evaluation import LocalEvaluator
from common.evolution import EvolutionConfig, EvolutionSearch
from common.search import SearchConfig, run_strategy
from nas_bench_201.space import NASBench201Space

SPACE = NASBench201Space()
CFG = EvolutionConfig(population=20, iterations=6, top_k=5, mutations=8, crossovers=8, mutation_prob=0.3)


def toy_score(arch):
    """A deterministic score with a unique optimum."""
    return float(np.dot(arch, [3, 1, 4, 1, 5, 9]) + 0.01 * arch[0] * arch[5])


class CountingEvaluator(LocalEvaluator):
    def __init__(self):
        self.calls = []
        super().__init__(SPACE.to_str, self._score)

    def _score(self, archs):
        self.calls += [SPACE.to_str(a) for a in archs]
        return np.array([toy_score(a) for a in archs])


def test_no_architecture_is_scored_twice_and_the_search_improves():
    evaluator = CountingEvaluator()
    result = EvolutionSearch(SPACE, evaluator, CFG, seed=0).run()
    assert len(evaluator.calls) == len(set(evaluator.calls)) == len(result.scores)
    assert len(result.scores) > CFG.population * 3
    best_random = max(toy_score(SPACE.random(np.random.default_rng(s))) for s in range(20))
    assert result.best[1] >= best_random
    assert [s for _, s in result.top] == sorted((s for _, s in result.top), reverse=True)
    assert result.top[0][1] == max(result.scores.values())


def test_same_seed_same_result_and_another_seed_differs():
    first = EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=1).run()
    second = EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=1).run()
    third = EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=2).run()
    assert first.scores == second.scores and first.top == second.top and first.history == second.history
    assert first.scores != third.scores


def test_resume_from_state_file_gives_the_identical_result(tmp_path):
    reference = EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=3, state_path=tmp_path / "ref.json").run()

    class Interrupt(Exception):
        pass

    def stop_after_three(generation, total):
        if generation == 3:
            raise Interrupt

    state = tmp_path / "state.json"
    with pytest.raises(Interrupt):
        EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=3, state_path=state, progress=stop_after_three).run()
    # killed while finishing generation 3: the file still holds the state after generation 2
    assert json.loads(state.read_text())["generation"] == 2
    evaluator = CountingEvaluator()
    resumed = EvolutionSearch(SPACE, evaluator, CFG, seed=3, state_path=state).run()
    assert resumed.scores == reference.scores and resumed.top == reference.top
    assert resumed.history == reference.history
    saved = json.loads((tmp_path / "ref.json").read_text())
    assert len(evaluator.calls) < len(saved["scores"])  # the resumed run scored only what was left


def test_state_of_another_search_is_refused(tmp_path):
    state = tmp_path / "state.json"
    EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=0, state_path=state).run()
    with pytest.raises(UserError, match="state of a different search"):
        EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=9, state_path=state).run()
    state.write_text("{not json")
    with pytest.raises(UserError, match="not a valid evolution state"):
        EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=0, state_path=state).run()


def test_constraint_is_never_violated_and_failures_are_reported():
    no_pool = lambda arch: 4 not in arch  # noqa: E731
    evaluator = CountingEvaluator()
    result = EvolutionSearch(SPACE, evaluator, CFG, seed=4, constraint=no_pool).run()
    assert all(4 not in SPACE.from_str(key) for key in evaluator.calls)

    def flaky(archs):
        return np.array([np.nan if arch[0] == 0 else toy_score(arch) for arch in archs])

    result = EvolutionSearch(SPACE, LocalEvaluator(SPACE.to_str, flaky), CFG, seed=5).run()
    assert result.failed and all(SPACE.from_str(key)[0] == 0 for key in result.failed)
    assert all(SPACE.from_str(key)[0] != 0 for key, _ in result.top)


def test_exhaustive_and_random_strategies():
    evaluator = CountingEvaluator()
    result = run_strategy(SPACE, evaluator, SearchConfig(strategy="exhaustive", report_top=3), seed=0)
    assert len(result.scores) == 15625 and result.best[0] == SPACE.to_str((4, 4, 4, 4, 4, 4))
    result = run_strategy(SPACE, CountingEvaluator(), SearchConfig(strategy="random", random_samples=100), seed=0)
    assert len(result.scores) == 100


def test_a_state_scored_with_other_weights_is_not_resumed(tmp_path):
    state = tmp_path / "state.json"
    EvolutionSearch(SPACE, CountingEvaluator(), CFG, seed=6, state_path=state, scorer_id="weights-a").run()
    flipped = LocalEvaluator(SPACE.to_str, lambda archs: np.array([-toy_score(a) for a in archs]))
    fresh = EvolutionSearch(SPACE, flipped, CFG, seed=6).run()
    resumed = EvolutionSearch(SPACE, flipped, CFG, seed=6, state_path=state, scorer_id="weights-b").run()
    assert resumed.scores == fresh.scores and resumed.top == fresh.top  # nothing of the stale scores survives
    assert json.loads(state.read_text())["scorer_id"] == "weights-b"
