"""``mlops``: the platform's command-line tool for deploying and operating it (README "Deploy to
AWS", "Operate"). Installed with the project (``make synth`` / ``make test`` install it into
``.venv``); it calls AWS with the caller's credentials through boto3 and never imports aws_cdk.
"""
