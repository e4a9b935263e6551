"""Protocols: the rules as data (`rules`), the turn engine as a pure state machine (`engine`), scoring
(`scoring`), live sessions backed by the database (`live`), the generation runner (`runner`), AI judges
(`ai_judge`) and AI-only batch runs (`batch`)."""
