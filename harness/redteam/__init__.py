"""Red-teaming: strategies turn a safety suite's seed prompts into attacks; attack-success rates per strategy and
harm category, over-refusal on benign look-alikes, base vs candidate per strategy, gate rules.

    harness redteam suites/redteam --base smollm2-135m --candidate runs/tickets --out reports/redteam
"""
