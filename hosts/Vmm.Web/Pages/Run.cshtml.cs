using Vmm.Hosting;
using Vmm.Hosting.Exporters;

namespace Vmm.Web.Pages;

public sealed class RunModel(Engine engine) : ScenarioPage(engine)
{
    /// <summary>The run as the console table model <c>vmm run</c> draws (heading, step table, summary), drawn here as HTML.</summary>
    public ConsoleTableModel? Result { get; private set; }

    public void OnGet() => LoadStart();

    public async Task OnPostValidateAsync() => await ValidatePosted();

    public async Task OnPostAsync()
    {
        if (await ValidatePosted() is not { IsValid: true } valid) return;
        var report = await Engine.Run(valid, HttpContext.RequestAborted);
        Result = ConsoleTableModel.From(new RunReport([report], [], [], []));
    }
}
