"""What other apps add to the order desk: actions and inlines of ``OrderAdmin``.

orders comes before shipping and knows nothing of it. Shipping's admin registers its order actions (create
shipments, print, ship), its inline (an order's printed documents) and the order page's buttons here as it loads, in
the order they are to be shown; ``OrderAdmin`` lists them after its own actions and inlines.
"""

from collections.abc import Callable

from django.contrib.admin.options import InlineModelAdmin


class OrderAdminExtensions:
    def __init__(self) -> None:
        self.actions: list[Callable] = []
        self.inlines: list[type[InlineModelAdmin]] = []
        #: ``tools(request, obj) -> [{"label", "url"} | {"label", "action"}]``: buttons of the change page, a link or
        #: one of the list's actions run on this object.
        self.tools: list[Callable] = []

    def register_tools(self, tools: Callable) -> Callable:
        """Add buttons to the change page (see ``tools``)."""
        if tools not in self.tools:
            self.tools.append(tools)
        return tools

    def register_action(self, action: Callable) -> Callable:
        """Add an admin action (a function made with ``@admin.action``) after those registered before it; an action
        of the same name is replaced where it stands."""
        names = [known.__name__ for known in self.actions]
        if action.__name__ in names:
            self.actions[names.index(action.__name__)] = action
        else:
            self.actions.append(action)
        return action

    def register_inline(self, inline: type[InlineModelAdmin]) -> type[InlineModelAdmin]:
        """Add an inline after those registered before it."""
        if inline not in self.inlines:
            self.inlines.append(inline)
        return inline


order_admin_extensions = OrderAdminExtensions()
#: The same for the returns list (its actions: shipping's credit notes).
return_admin_extensions = OrderAdminExtensions()
