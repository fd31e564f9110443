from tap_pagerduty.cli import main

main()
