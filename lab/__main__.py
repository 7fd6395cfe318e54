from lab.apps.cli import main

raise SystemExit(main())
