"""Self-Instruct: show the generator k sampled seed tasks, parse the new tasks it writes, keep the novel ones.

    state = TaskFilter(seeds, params)
    record = self_instruct_chunk(generator, seeds, state, params, chunk=0, requests=8, seed=0)

A task is dropped, with the reason counted, when it cannot be parsed, is too short or too long, asks for
something a text model cannot give (an image, a file), is not mostly Latin script, repeats a seed or a kept
task exactly, or is too similar to one (ROUGE-L F above the threshold). Each chunk is a plain dict, so the job
can append it to its ledger and rebuild the state from the ledger on resume.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from rouge_score import rouge_scorer

from backend.schemas.datagen import SelfInstructParams
from worker.datagen.generators import TextGenerator

PROMPT_INTRO = (
    "You write tasks for training an assistant. Here are some example tasks, each with an instruction, an "
    "optional input and the expected output. Write one new task that is different from all of them, in "
    "exactly the same format."
)
#: what a text-only model cannot do (the Self-Instruct paper drops the same kind of task)
UNSUITABLE = re.compile(
    r"\b(image|images|picture|graph|diagram|draw|plot|photo|video|audio|file|map)\b", re.IGNORECASE
)
_FIELD = re.compile(
    r"instruction\s*:\s*(?P<instruction>.*?)\n\s*input\s*:\s*(?P<input>.*?)\n\s*output\s*:\s*(?P<output>.*)",
    re.IGNORECASE | re.DOTALL,
)
_TASK_HEADER = re.compile(r"^\s*(?:#+\s*)?task\s*\d*\s*:?\s*$", re.IGNORECASE | re.MULTILINE)
_NO_INPUT = {"", "<noinput>", "none", "n/a", "no input", "-"}


@dataclass(frozen=True)
class Task:
    instruction: str
    input: str
    output: str

    def as_row(self) -> dict:
        return asdict(self)


def seed_tasks(rows: Sequence[dict]) -> list[Task]:
    """Instruction rows (normalised: one per seed instance) as tasks, first instance of each instruction."""
    seen: dict[str, Task] = {}
    for row in rows:
        instruction = str(row.get("instruction", "")).strip()
        if instruction and instruction not in seen:
            seen[instruction] = Task(instruction, str(row.get("input", "")), str(row.get("output", "")))
    return list(seen.values())


def _render(task: Task, number: int) -> str:
    return (
        f"Task {number}\nInstruction: {task.instruction}\nInput: {task.input or '<noinput>'}\n"
        f"Output: {task.output}"
    )


def build_prompt(examples: Sequence[Task]) -> list[dict]:
    """The conversation asking for one new task after `examples`."""
    shown = "\n\n".join(_render(task, i + 1) for i, task in enumerate(examples))
    return [{"role": "user", "content": f"{PROMPT_INTRO}\n\n{shown}\n\nTask {len(examples) + 1}"}]


def parse_tasks(text: str) -> list[Task]:
    """Every well-formed task in a generated text (blocks split at 'Task N' headers)."""
    tasks = []
    for block in _TASK_HEADER.split(text):
        match = _FIELD.search(block)
        if match is None:
            continue
        raw_input = match["input"].strip()
        tasks.append(
            Task(
                instruction=match["instruction"].strip(),
                input="" if raw_input.lower() in _NO_INPUT else raw_input,
                output=match["output"].strip(),
            )
        )
    return tasks


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _mostly_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) / len(letters) >= 0.8


class TaskFilter:
    """The filters' state: seed and kept instructions to compare against, and counts per drop reason."""

    def __init__(self, seeds: Sequence[Task], params: SelfInstructParams) -> None:
        self.params = params
        self.scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
        self.pool = [task.instruction for task in seeds]  # what a new instruction must differ from
        self.exact = {_normal(t.instruction) for t in seeds}
        self.kept: list[Task] = []
        self.dropped: Counter[str] = Counter()

    def max_similarity(self, instruction: str) -> float:
        return max((self.scorer.score(p, instruction)["rougeL"].fmeasure for p in self.pool), default=0.0)

    def reason(self, task: Task) -> str | None:
        """Why `task` is dropped, or None when it passes every filter."""
        p = self.params
        words = len(task.instruction.split())
        if words < p.min_instruction_words or words > p.max_instruction_words:
            return "instruction_length"
        if not task.output or len(task.output) > p.max_output_chars:
            return "output_length"
        if UNSUITABLE.search(task.instruction):
            return "unsuitable"
        if not _mostly_latin(task.instruction + " " + task.output):
            return "language"
        if _normal(task.instruction) in self.exact:
            return "exact_duplicate"
        if self.max_similarity(task.instruction) > p.rouge_threshold:
            return "rouge_similar"
        return None

    def keep(self, task: Task) -> None:
        self.kept.append(task)
        self.pool.append(task.instruction)
        self.exact.add(_normal(task.instruction))

    def offer(self, task: Task) -> bool:
        why = self.reason(task)
        if why is None:
            self.keep(task)
            return True
        self.dropped[why] += 1
        return False

    def replay(self, record: dict) -> None:
        """Take back a ledger chunk written before a pause or crash."""
        for row in record["kept"]:
            self.keep(Task(**row))
        self.dropped.update(record["dropped"])


def self_instruct_chunk(
    generator: TextGenerator,
    seeds: Sequence[Task],
    state: TaskFilter,
    params: SelfInstructParams,
    *,
    chunk: int,
    requests: int,
    seed: int,
) -> dict:
    """One round of `requests` prompts: returns the ledger record {chunk, requests, kept, dropped}."""
    rng = random.Random(f"{seed}:{chunk}")  # the same chunk samples the same seeds after a resume
    k = min(params.seeds_per_prompt, len(seeds))
    chats = [build_prompt(rng.sample(list(seeds), k)) for _ in range(requests)]
    texts = generator.generate(chats, seed=seed * 100_003 + chunk)
    before, kept_before = Counter(state.dropped), len(state.kept)
    for text in texts:
        tasks = parse_tasks(text)
        if not tasks:
            state.dropped["unparseable"] += 1
        for task in tasks:
            state.offer(task)
            if len(state.kept) >= params.num_tasks:
                break
        if len(state.kept) >= params.num_tasks:
            break
    dropped = {k: v - before.get(k, 0) for k, v in state.dropped.items() if v - before.get(k, 0)}
    return {
        "chunk": chunk,
        "requests": requests,
        "kept": [t.as_row() for t in state.kept[kept_before:]],
        "dropped": dropped,
        "samples": texts[:2],
    }
