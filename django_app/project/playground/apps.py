from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "project.playground"
    label = "playground"
    verbose_name = "Playground"
