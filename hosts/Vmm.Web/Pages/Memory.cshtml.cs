using System.Text.Json;
using Vmm.Hosting;

namespace Vmm.Web.Pages;

public sealed class MemoryModel(Engine engine) : ScenarioPage(engine)
{
    public MemoryMapReport? Map { get; private set; }

    /// <summary>The frames as the page's script reads them: per frame, per VM, one letter per cell; and a label per frame.</summary>
    public string? MapJson { get; private set; }

    public async Task OnGetAsync()
    {
        LoadStart();
        if (Start is { Length: > 0 }) await MapPosted();
    }

    public async Task OnPostAsync() => await MapPosted();

    public async Task OnPostValidateAsync() => await ValidatePosted();

    /// <summary>"after step 3 (guest.convert): ok", the slider's label for a frame.</summary>
    public string Label(int frame)
    {
        if (frame == 0) return "before the first step: the VMs as created";
        var step = Map!.Report.Steps[frame - 1];
        return $"after step {step.Index} ({step.Op}): {step.ActualText}" + (step.Passed ? "" : $" — expected {step.ExpectedText}");
    }

    private async Task MapPosted()
    {
        if (await ValidatePosted() is not { IsValid: true } valid) return;
        Map = await Engine.Map(valid, HttpContext.RequestAborted);
        MapJson = JsonSerializer.Serialize(new
        {
            labels = Enumerable.Range(0, Map.Frames.Count).Select(Label),
            frames = Map.Frames.Select(f => f.Vms.Select(v => PageStates.Codes(v.Cells))),
            css = PageStates.All.ToDictionary(l => l.Code.ToString(), l => l.Css),
        });
    }
}
