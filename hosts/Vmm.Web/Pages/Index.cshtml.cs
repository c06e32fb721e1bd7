using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Vmm.Web.Pages;

public sealed class IndexModel(Engine engine) : PageModel
{
    public ComponentsDto Components { get; private set; } = null!;

    public string PluginsFileName { get; private set; } = "";

    public void OnGet()
    {
        Components = Api.Components(engine.Host);
        PluginsFileName = Path.GetFileName(engine.Host.PluginsFile);
    }
}
