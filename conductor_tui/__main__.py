from conductor_tui.cli import main

raise SystemExit(main())
