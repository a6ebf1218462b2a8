"""The case lifecycle after notification: state machine, timeline, rapid reviews, Panel
responses, national and local reviews, recommendations and actions.
"""
