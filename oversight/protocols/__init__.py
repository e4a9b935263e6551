"""Protocols as modules: one module per protocol (`debate`, `consultancy`, `direct_qa`, `model_alone`,
`assisted_qa`, `preference`), the one table of them (`registry`), the interface and shared pieces (`base`, the
round engine `engine`, `scoring`, a transcript's history `state`), transcripts on the database for every protocol
(`live`), model turns outside page runs (`runner`), AI judges (`ai_judge`), the bots that play a person's part
(`bots`) and the one driver that steps a transcript to its end (`driver`), and AI-only batch runs (`batch`); protocols as versioned data (`strategies`, their `prompts`), verified quotes
(`quotes`) and the transcript viewer's reads (`transcripts`). Import the registry, not this
package: this file imports nothing, so `oversight.models` can use the vocabulary without a cycle."""
