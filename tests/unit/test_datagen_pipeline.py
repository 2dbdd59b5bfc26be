"""Self-Instruct and Constitutional AI as pure functions, driven by a scripted generator: what each filter
drops, that nothing kept is above the novelty threshold, that a resumed run rebuilds the same state, and that
critique-and-revise yields trainable rows and pairs."""

from __future__ import annotations

import itertools
import json
import random

from rouge_score import rouge_scorer

from backend.ingest.formats import normalise_instruction
from backend.ingest.report import IssueCollector
from backend.schemas.datagen import DEFAULT_CONSTITUTION, ConstitutionalParams, SelfInstructParams
from tests.factories import alpaca_like_seed_tasks
from worker.datagen.constitutional import constitutional_chunk, prompt_messages, rows_from_items
from worker.datagen.self_instruct import Task, TaskFilter, parse_tasks, seed_tasks, self_instruct_chunk
from worker.jobs.datagen_job import Ledger

SCORER = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


class ScriptedGenerator:
    """Answers with the scripted texts in turn (cycling); records every conversation it was given."""

    name = "scripted"

    def __init__(self, texts):
        self.texts, self.seen, self.tokens = itertools.cycle(texts), [], 0

    def generate(self, chats, *, seed):
        self.seen += list(chats)
        return [next(self.texts) for _ in chats]


def _seeds() -> list[Task]:
    """Seed tasks as the studio stores them: Alpaca-shaped tasks flattened by the instruction normaliser."""
    rows = []
    for i, task in enumerate(alpaca_like_seed_tasks(12)):
        rows += normalise_instruction(task, i, IssueCollector(set()))
    return seed_tasks(rows)


def _text(instruction: str, output: str = "An answer.", input_: str = "<noinput>") -> str:
    return f"Instruction: {instruction}\nInput: {input_}\nOutput: {output}"


def test_parse_tasks_reads_blocks_and_skips_junk():
    text = "Task 4\n" + _text("Name two rivers in Europe.", "Danube and Rhine.") + "\n\nTask 5\n"
    text += _text("Add the numbers.", "5", input_="2 and 3")
    tasks = parse_tasks(text)
    assert tasks == [
        Task("Name two rivers in Europe.", "", "Danube and Rhine."),
        Task("Add the numbers.", "2 and 3", "5"),
    ]
    assert parse_tasks("the of and was hot word word") == []
    assert parse_tasks("Instruction: no input or output here") == []


def test_each_filter_drops_what_it_should_and_counts_why():
    seeds = _seeds()
    novel = "Describe how a bicycle gear system lets a rider climb steep hills."
    script = [
        _text(seeds[0].instruction),  # the very seed
        _text(seeds[1].instruction.replace("one word", "a single word")),  # a paraphrase of a seed
        _text("Sort it."),  # too short
        _text(novel, "x" * 5000),  # output too long
        _text("Draw a picture of a happy cat sitting on a sofa."),  # needs an image
        _text("Переведите это предложение на английский язык пожалуйста."),  # not Latin script
        _text(novel, "Lower gears turn the wheel less per pedal stroke."),  # kept
        _text(novel.upper(), "Again."),  # the kept task again (case aside)
        _text("Describe how a bicycle gear system lets riders climb steep hills easily."),  # close to kept
        "the of and was hot word",  # no task at all
    ]
    params = SelfInstructParams(num_tasks=100, rouge_threshold=0.7)
    state = TaskFilter(seeds, params)
    generator = ScriptedGenerator(script)
    record = self_instruct_chunk(generator, seeds, state, params, chunk=0, requests=len(script), seed=1)
    assert [t.instruction for t in state.kept] == [novel]
    assert record["kept"] == [state.kept[0].as_row()]
    assert record["dropped"] == {
        "exact_duplicate": 2,
        "rouge_similar": 2,
        "instruction_length": 1,
        "output_length": 1,
        "unsuitable": 1,
        "language": 1,
        "unparseable": 1,
    }
    # every prompt showed k seed tasks and asked for the next one
    assert all(chat[0]["content"].endswith(f"Task {params.seeds_per_prompt + 1}") for chat in generator.seen)


def _random_task(rng: random.Random) -> str:
    words = ["explain", "list", "river", "city", "number", "poem", "write", "short", "three", "why", "how"]
    words += ["summer", "ocean", "train", "garden", "recipe", "history", "colour", "music", "planet"]
    return _text(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))), "Some answer.")


def test_no_kept_task_is_above_the_threshold_against_seeds_or_each_other():
    seeds = _seeds()
    rng = random.Random(7)
    params = SelfInstructParams(num_tasks=1000, rouge_threshold=0.5)
    state = TaskFilter(seeds, params)
    generator = ScriptedGenerator([_random_task(rng) for _ in range(300)])
    for chunk in range(10):
        self_instruct_chunk(generator, seeds, state, params, chunk=chunk, requests=30, seed=0)
    assert 5 < len(state.kept) < 300 and state.dropped["rouge_similar"] > 0
    kept = [t.instruction for t in state.kept]
    for i, instruction in enumerate(kept):
        others = [s.instruction for s in seeds] + kept[:i]
        assert max(SCORER.score(o, instruction)["rougeL"].fmeasure for o in others) <= 0.5


def test_stops_at_num_tasks_and_a_replayed_ledger_rebuilds_the_state(tmp_path):
    seeds = _seeds()
    params = SelfInstructParams(num_tasks=3)
    generator = ScriptedGenerator(
        [
            _text(t)
            for t in (
                "Explain photosynthesis to a child.",
                "List three uses of copper wire.",
                "Write a limerick about a sleepy owl.",
                "Compare trains and planes for travel.",
            )
        ]
    )
    ledger = Ledger(tmp_path / "ledger.jsonl")
    state = TaskFilter(seeds, params)
    ledger.append(self_instruct_chunk(generator, seeds, state, params, chunk=0, requests=2, seed=0))
    ledger.append(self_instruct_chunk(generator, seeds, state, params, chunk=1, requests=2, seed=0))
    assert len(state.kept) == 3
    with ledger.path.open("a") as fh:
        fh.write('{"chunk": 2, "kept": [')  # a record cut short by a kill
    resumed = TaskFilter(seeds, params)
    for record in ledger.read():
        resumed.replay(record)
    assert resumed.kept == state.kept and resumed.dropped == state.dropped
    assert len(ledger.read()) == 2


class ConstitutionalGenerator:
    """Answers badly, critiques, and revises into a refusal; the principle asked about is recorded."""

    name = "scripted"
    tokens = 0

    def __init__(self):
        self.principles = []

    def generate(self, chats, *, seed):
        out = []
        for chat in chats:
            last = chat[-1]["content"]
            if last.startswith("Critique"):
                self.principles.append(last.split(": ", 1)[1].split("\n")[0])
                out.append("The response helps with a crime.")
            elif last.startswith("Rewrite") or "same" in last:
                out.append("I can't help with that, but a locksmith can.")
            else:
                out.append("Sure, here is how to pick a lock.")
        return out


def test_critique_and_revise_yields_sft_rows_and_pairs():
    prompts = [[{"role": "user", "content": f"How do I open my neighbour's door {i}?"}] for i in range(4)]
    prompts.append([{"role": "user", "content": "Say the same thing."}])
    generator = ConstitutionalGenerator()
    params = ConstitutionalParams(rounds=2)
    record = constitutional_chunk(generator, prompts, params, chunk=0, start=10, seed=3)
    items = json.loads(json.dumps(record["items"]))  # what the ledger keeps
    assert [item["index"] for item in items] == [10, 11, 12, 13, 14]
    assert all(len(item["rounds"]) == 2 for item in items)
    assert set(generator.principles) <= set(DEFAULT_CONSTITUTION) and len(generator.principles) == 10
    sft, pairs, dropped = rows_from_items(items)
    assert len(sft) == 5 and len(pairs) == 4 and dropped == {"unchanged_by_revision": 1}
    assert sft[0]["messages"][-1] == {
        "role": "assistant",
        "content": "I can't help with that, but a locksmith can.",
    }
    assert (
        pairs[0]["chosen"][0]["content"].startswith("I can't")
        and "pick a lock" in pairs[0]["rejected"][0]["content"]
    )


def test_prompts_come_from_every_format_with_a_prompt():
    user = {"role": "user", "content": "Hi"}
    bot = {"role": "assistant", "content": "Hello"}
    assert prompt_messages({"prompt": [user], "chosen": [bot], "rejected": [bot]}) == [user]
    assert prompt_messages({"messages": [user, bot]}) == [user]
    assert (
        prompt_messages({"instruction": "Add", "input": "2 3", "output": "5"})[0]["content"] == "Add\n\n2 3"
    )
    assert prompt_messages({"text": "plain"}) is None
