namespace Vmm.Web;

/// <summary>The "Vmm" configuration section (appsettings.json, environment Vmm__X, or --Vmm:X=value on the command line).</summary>
public sealed class WebOptions
{
    public const string Section = "Vmm";

    /// <summary>The plugins.json to load; null: VMM_PLUGINS, else the nearest plugins.json above the current directory or the program.</summary>
    public string? Plugins { get; set; }

    /// <summary>The directory whose *.json files the run and memory-map pages offer as starts; null: scenarios/ beside plugins.json.</summary>
    public string? Scenarios { get; set; }

    /// <summary>The SQLite store (as <c>vmm compare --store</c> writes) the history page reads and web comparisons append to; null: no history.</summary>
    public string? Store { get; set; }

    /// <summary>The token every request must carry when set; required to listen on anything but loopback.</summary>
    public string? AccessToken { get; set; }

    /// <summary>The largest request body accepted (413 above it).</summary>
    public long MaxRequestBytes { get; set; } = 1 << 20;

    /// <summary>How long one run or comparison may take before it is stopped (503).</summary>
    public double RunTimeoutSeconds { get; set; } = 30;

    /// <summary>How many runs or comparisons go at once; one more is refused at once (503 with Retry-After), never queued.</summary>
    public int MaxConcurrentRuns { get; set; } = 2;

    /// <summary>The most engine runs (stacks × workloads × repeats) one comparison may ask for (400 above it).</summary>
    public int MaxCompareRuns { get; set; } = 400;

    /// <summary>Cells per VM in a memory map (a VM with more pages groups them).</summary>
    public int MemoryMapCells { get; set; } = 4096;

    public TimeSpan RunTimeout => TimeSpan.FromSeconds(RunTimeoutSeconds);
}
