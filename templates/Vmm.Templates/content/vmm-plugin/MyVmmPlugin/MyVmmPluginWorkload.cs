using Vmm.Abstractions;

namespace MyVmmPlugin;

/// <summary>Options bound from a comparison's "myvmmplugin.*" keys; vmm plugins lists them.</summary>
public sealed class MyVmmPluginWorkloadOptions
{
    [Option("pages the guest writes a secret into and reads back")]
    public int Pages { get; set; } = 4;
}

/// <summary>A protected guest writes a secret into a few pages picked by the seed, the VMM reads them, and the guest reads them back.</summary>
public sealed class MyVmmPluginWorkload(MyVmmPluginWorkloadOptions options) : IWorkload
{
    private const string Vm = "td1";
    private const int GuestPages = 256;

    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        scenario.Vm(Vm, (ulong)GuestPages << 12);
        var pages = Enumerable.Range(0, GuestPages).OrderBy(_ => context.Random.Next()).Take(Math.Clamp(options.Pages, 1, GuestPages)).ToList();
        var secrets = new List<(int Page, byte[] Data)>();
        foreach (var page in pages)
        {
            var secret = new byte[8];
            context.Random.NextBytes(secret);
            scenario.Step("guest.write", Vm, (ulong)page << 12, ("data", secret));
            secrets.Add((page, secret));
        }
        foreach (var (page, secret) in secrets)
        {
            scenario.Step("host.read", Vm, (ulong)page << 12, ("len", secret.Length));
            ScenarioWriter.ExpectData(scenario.Step("guest.read", Vm, (ulong)page << 12, ("len", secret.Length)), secret);
        }
    }
}
