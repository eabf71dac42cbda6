"""What a model does on value-labelled prompts: predictions (`generate`), the paper's metrics (`metrics`,
`evaluate`), plots, P(EOS) curves (`termination`) and the CPU demo. Reads files; never runs inside a trainer."""

__all__ = ["datafiles", "demo", "evaluate", "generate", "metrics", "model_loading", "plots", "termination"]
