using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Vmm.Store;

namespace Vmm.Web.Pages;

public sealed class HistoryModel(Engine engine) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public long? Before { get; set; }

    [BindProperty(SupportsGet = true)]
    public long? After { get; set; }

    /// <summary>The store's file name (not its path), or null when none is configured.</summary>
    public string? StoreName { get; private set; }

    public IReadOnlyList<StoredRun> Runs { get; private set; } = [];

    public IReadOnlyList<MetricChange>? Changes { get; private set; }

    public string? Error { get; private set; }

    /// <summary>"1.0.0+57b7c72": a version with its commit hash cut to seven characters (the cell's title has it whole).</summary>
    public static string Short(string version)
    {
        var plus = version.IndexOf('+', StringComparison.Ordinal);
        return plus >= 0 && version.Length > plus + 8 ? version[..(plus + 8)] : version;
    }

    public void OnGet()
    {
        if (engine.Options.Store is not { } path) return;
        StoreName = Path.GetFileName(path);
        try
        {
            using var store = engine.OpenStore();
            Runs = store.List();
            if (Before is { } before && After is { } after) Changes = store.Diff(before, after);
        }
        catch (StoreException e)
        {
            Error = e.Message.Replace(path, StoreName, StringComparison.Ordinal);
        }
    }
}
