from oversight.cli import main

raise SystemExit(main())
