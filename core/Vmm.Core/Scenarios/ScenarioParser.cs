using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vmm.Abstractions;

namespace Vmm.Core.Scenarios;

/// <summary>
/// Reads one scenario file (scenario-format.md, version 1) into a <see cref="Scenario"/>. Every problem is a
/// <see cref="ScenarioException"/> at the line and column of the offending property or value, with a message
/// that names the fix: names match exactly, each op takes only its own properties, and sizes, data and
/// addresses are held to <see cref="ScenarioLimits"/>. Steps are numbered from 0 (their index in <c>steps</c>).
/// </summary>
public static partial class ScenarioParser
{
    /// <summary>How an op names the memory it acts on (scenario-format.md, "Addresses").</summary>
    private enum Addressing
    {
        /// <summary>Nothing: the VMM process as a whole.</summary>
        None,
        /// <summary><c>vm</c> alone.</summary>
        Vm,
        /// <summary><c>vm</c> + <c>gpa</c>.</summary>
        VmGpa,
        /// <summary><c>hva</c>, or <c>vm</c> + <c>gpa</c> (the VMM's mapping of it).</summary>
        HvaOrVmGpa,
        /// <summary><c>vm</c> + <c>gpa</c> (the frame behind it), or <c>pfn</c>.</summary>
        VmGpaOrPfn,
        /// <summary><c>vm</c> + <c>offset</c> in its backing file.</summary>
        VmFile,
    }

    /// <summary>What an op takes besides <c>op</c> and <c>expect</c>: its addressing, then required and optional properties.</summary>
    private sealed record OpShape(Addressing Addressing, string[] Required, string[] Optional)
    {
        public IReadOnlyList<string> Properties { get; } =
            ["op", .. AddressProperties(Addressing), .. Required, .. Optional, "expect"];

        private static string[] AddressProperties(Addressing addressing) => addressing switch
        {
            Addressing.Vm => ["vm"],
            Addressing.VmGpa => ["vm", "gpa"],
            Addressing.HvaOrVmGpa => ["hva", "vm", "gpa"],
            Addressing.VmGpaOrPfn => ["vm", "gpa", "pfn"],
            Addressing.VmFile => ["vm", "offset"],
            _ => [],
        };
    }

    /// <summary>
    /// The operations table of scenario-format.md plus README's "Scenario extensions" (<c>bufferGpa</c> on
    /// host.pread/pwrite, <c>requester</c> on kernel.read/write, <c>hva</c> on host.mmap-backing, hw.unpoison).
    /// </summary>
    private static readonly (string Op, OpShape Shape)[] OpTable =
    [
        ("guest.read", new(Addressing.VmGpa, ["len"], ["shared"])),
        ("guest.write", new(Addressing.VmGpa, ["data"], ["shared"])),
        ("guest.convert", new(Addressing.VmGpa, ["size", "to"], [])),
        ("vmm.set-attributes", new(Addressing.VmGpa, ["size", "private"], [])),
        ("host.read", new(Addressing.HvaOrVmGpa, ["len"], [])),
        ("host.write", new(Addressing.HvaOrVmGpa, ["data"], [])),
        ("host.gup", new(Addressing.HvaOrVmGpa, [], ["pages", "flags"])),
        ("host.pread", new(Addressing.VmFile, ["len"], ["bufferGpa"])),
        // With bufferGpa the bytes come from guest memory: then `len` says how many, instead of `data`.
        ("host.pwrite", new(Addressing.VmFile, [], ["data", "len", "bufferGpa"])),
        ("host.procmem-read", new(Addressing.HvaOrVmGpa, ["len"], [])),
        ("host.procmem-write", new(Addressing.HvaOrVmGpa, ["data"], [])),
        ("host.process-vm-readv", new(Addressing.HvaOrVmGpa, ["len"], [])),
        ("host.madvise", new(Addressing.HvaOrVmGpa, ["size", "advice"], [])),
        ("host.fallocate", new(Addressing.VmFile, ["size"], ["mode"])),
        ("host.mmap-backing", new(Addressing.VmFile, ["size"], ["hva"])),
        ("host.munmap", new(Addressing.HvaOrVmGpa, ["size"], [])),
        ("host.fork", new(Addressing.None, [], [])),
        ("host.exit", new(Addressing.None, [], [])),
        ("kernel.read", new(Addressing.VmGpaOrPfn, ["len"], ["requester"])),
        ("kernel.write", new(Addressing.VmGpaOrPfn, ["data"], ["requester"])),
        ("device.dma-read", new(Addressing.VmGpa, ["len"], [])),
        ("device.dma-write", new(Addressing.VmGpa, ["data"], [])),
        ("hw.memory-error", new(Addressing.VmGpaOrPfn, [], ["consumed"])),
        ("hw.flip-bit", new(Addressing.VmGpaOrPfn, ["bit"], [])),
        ("thp.collapse", new(Addressing.HvaOrVmGpa, [], [])),
        ("thp.split", new(Addressing.HvaOrVmGpa, [], [])),
        ("vm.destroy", new(Addressing.Vm, [], [])),
        ("inspect", new(Addressing.VmGpaOrPfn, [], [])),
        // Extensions beyond scenario-format.md version 1:
        ("hw.unpoison", new(Addressing.VmGpaOrPfn, [], [])),
    ];

    private static readonly Dictionary<string, OpShape> Shapes = OpTable.ToDictionary(o => o.Op, o => o.Shape, StringComparer.Ordinal);

    /// <summary>The ops of scenario-format.md, in the table's order, then the extensions.</summary>
    public static IReadOnlyList<string> Ops { get; } = OpTable.Select(o => o.Op).ToList();

    /// <summary>The properties a step of <paramref name="op"/> may have (its own arguments plus <c>op</c> and <c>expect</c>).</summary>
    public static IReadOnlyList<string> PropertiesOf(string op) =>
        Shapes.TryGetValue(op, out var shape) ? shape.Properties : throw new ArgumentException($"unknown op '{op}'", nameof(op));

    private const string SizeHint = "expected a size like \"4K\", \"2M\", 4096 or \"0x1000\"";
    private const string DataHint = "expected hex bytes like \"0xdeadbeef\", {\"fill\": \"0xaa\", \"len\": 4096} or {\"pattern\": 7, \"len\": 4096}";

    private static readonly string[] TopLevelProperties = ["$schema", "name", "description", "kernel", "components", "options", "host", "vms", "steps"];
    private static readonly string[] VmProperties = ["name", "memory", "protected", "backing", "thp", "gmemFlags"];
    private static readonly string[] StepProperties = OpTable.SelectMany(o => o.Shape.Properties).Distinct(StringComparer.Ordinal).ToArray();
    private static readonly string[] StateFields = ["hwpoison", "private", "hostMapped", "hwpoisonEntry", "huge", "owner", "lines", "ept", "pfn", "pte", "refcount", "mapcount"];
    private static readonly string[] StateBoolFields = ["hwpoison", "private", "hostMapped", "hwpoisonEntry", "huge", "ept"];

    private static readonly (string Name, BackingKind Value)[] Backings =
        [("anon", BackingKind.Anon), ("shmem", BackingKind.Shmem), ("hugetlb", BackingKind.Hugetlb), ("file", BackingKind.File), ("guest-memfd", BackingKind.GuestMemfd)];
    private static readonly (string Name, GuestMemfdFlags Value)[] GmemFlagNames = [("MMAP", GuestMemfdFlags.Mmap), ("INIT_SHARED", GuestMemfdFlags.InitShared)];
    private static readonly (string Name, GupFlags Value)[] GupFlagNames =
        [("write", GupFlags.Write), ("hwpoison", GupFlags.HwPoison), ("allow-poisoned", GupFlags.AllowPoisoned), ("pin", GupFlags.Pin), ("fast", GupFlags.Fast)];
    private static readonly (string Name, OutcomeKind Value)[] OutcomeNames =
    [
        ("ok", OutcomeKind.Ok), ("guest-mce", OutcomeKind.GuestMce), ("guest-killed", OutcomeKind.GuestKilled), ("guest-vc", OutcomeKind.GuestVc),
        ("host-panic", OutcomeKind.HostPanic), ("shutdown", OutcomeKind.Shutdown), ("not-run", OutcomeKind.NotRun),
    ];
    private static readonly string[] OutcomeObjectKeys = ["ok", "sigbus", "errno", "kvm-exit", "killed", "state"];
    private static readonly (string Name, SigBusCode Value)[] SigBusCodes = Enum.GetValues<SigBusCode>().Select(c => (c.ToString(), c)).ToArray();
    private static readonly (string, string)[] ToValues = Same("private", "shared");
    private static readonly (string, string)[] Advices = Same("HWPOISON", "SOFT_OFFLINE", "DONTNEED", "HUGEPAGE", "NOHUGEPAGE");
    private static readonly (string, string)[] Modes = Same("PUNCH_HOLE", "KEEP_SIZE");
    private static readonly (string, string)[] Requesters = Same("kernel", "seam", "kvm");

    private static readonly ConditionalWeakTable<Scenario, JsonSourceMap> Maps = new();

    private static (string, string)[] Same(params string[] names) => names.Select(n => (n, n)).ToArray();

    /// <summary>Reads and parses a scenario file; a missing or unreadable file is a <see cref="ScenarioException"/> too.</summary>
    public static Scenario ParseFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ScenarioException("no such file; check the path", new SourceLocation(path, 0, 0));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScenarioException($"cannot read the file: {e.Message}", new SourceLocation(path, 0, 0));
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses scenario JSON text; <paramref name="file"/> is only used in locations.</summary>
    public static Scenario Parse(string json, string file) => Parse(Encoding.UTF8.GetBytes(json), file);

    /// <summary>Parses UTF-8 scenario JSON; <paramref name="file"/> is only used in locations.</summary>
    public static Scenario Parse(ReadOnlyMemory<byte> utf8, string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var (document, map) = JsonSourceMap.Parse(utf8, file);
        using (document)
        {
            var scenario = new Reader(map).ReadScenario(document.RootElement);
            Maps.AddOrUpdate(scenario, map);
            return scenario;
        }
    }

    /// <summary>
    /// Where the value at a JSON path (<c>$.components.policy</c>) stands in the file a scenario was parsed
    /// from; the file alone when unknown.
    /// </summary>
    public static SourceLocation LocationOf(Scenario scenario, string jsonPath)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return Maps.TryGetValue(scenario, out var map) ? map.ValueOf(jsonPath) : new SourceLocation(scenario.File, 0, 0);
    }

    /// <summary>Parses a size or address as written in a scenario string ("4K", "0x1000", "4096").</summary>
    public static bool TryParseSize(string text, out ulong value) => ParseSizeText(text, out value) == SizeProblem.None;

    private enum SizeProblem
    {
        None,
        Malformed,
        Negative,
        Fraction,
        TooLarge,
    }

    private static SizeProblem ParseSizeText(string text, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = 0;
        var match = SizePattern().Match(text);
        if (!match.Success)
        {
            if (SignedOrFractionPattern().Match(text) is { Success: true } number)
                return number.Groups[1].Success ? SizeProblem.Negative : SizeProblem.Fraction;
            return SizeProblem.Malformed;
        }
        var digits = match.Groups[1].Value;
        var parsed = digits.StartsWith("0x", StringComparison.Ordinal)
            ? ulong.TryParse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!parsed) return SizeProblem.TooLarge;
        var shift = match.Groups[2].Value switch { "K" => 10, "M" => 20, "G" => 30, "T" => 40, _ => 0 };
        if (shift > 0 && value > ulong.MaxValue >> shift) return SizeProblem.TooLarge;
        value <<= shift;
        return SizeProblem.None;
    }

    [GeneratedRegex(@"^(0x[0-9a-fA-F]+|[0-9]+)([KMGT])?$")]
    private static partial Regex SizePattern();

    /// <summary>A number a size cannot be: negative (group 1) or with a fraction or exponent.</summary>
    [GeneratedRegex(@"^(-)?[0-9]*(\.[0-9]+)?([eE][-+]?[0-9]+)?[KMGT]?$")]
    private static partial Regex SignedOrFractionPattern();

    [GeneratedRegex(@"^0x([0-9a-fA-F]{2})+$")]
    private static partial Regex HexBytesPattern();

    [GeneratedRegex(@"^[0-9]+\.[0-9]+$")]
    private static partial Regex KernelPattern();

    [GeneratedRegex(@"^E[A-Z0-9]+$")]
    private static partial Regex ErrnoPattern();

    private readonly record struct Node(JsonElement Element, string Path)
    {
        public JsonValueKind Kind => Element.ValueKind;
        /// <summary>The property name, or for a list item the list's name.</summary>
        public string Name => NameOf(IsItem ? Path[..Path.LastIndexOf('[')] : Path);

        public bool IsItem => Path.EndsWith(']') && !Path.EndsWith("']", StringComparison.Ordinal);

        private static string NameOf(string path) => path.EndsWith("']", StringComparison.Ordinal)
            ? path[(path.LastIndexOf("['", StringComparison.Ordinal) + 2)..^2].Replace("\\'", "'", StringComparison.Ordinal)
            : path[(path.LastIndexOf('.') + 1)..];

        public Node? Get(string property) =>
            Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(property, out var value) ? new Node(value, JsonSourceMap.Child(Path, property)) : null;

        public IEnumerable<(string Name, Node Value)> Properties()
        {
            var path = Path;
            return Element.EnumerateObject().Select(p => (p.Name, new Node(p.Value, JsonSourceMap.Child(path, p.Name))));
        }

        public IEnumerable<Node> Items()
        {
            var path = Path;
            return Element.EnumerateArray().Select((item, i) => new Node(item, JsonSourceMap.Item(path, i)));
        }
    }

    /// <summary>A declared VM with what steps are checked against.</summary>
    private sealed record VmBounds(VmSpec Spec)
    {
        public string Name => Spec.Name;
        public ulong Memory => Spec.Memory;
        public bool HasFile => Spec.Backing != BackingKind.Anon;
    }

    private sealed class Reader(JsonSourceMap map)
    {
        private ulong _dataBytes;

        public Scenario ReadScenario(JsonElement rootElement)
        {
            var root = new Node(rootElement, "$");
            if (root.Kind != JsonValueKind.Object)
                throw Fail(root, $"a scenario is one JSON object like {{\"name\": \"...\", \"steps\": [...]}}, not {Describe(root)}");
            CheckProperties(root, TopLevelProperties, "top-level property");

            var name = NonEmptyString(Required(root, "name", "the scenario"));
            var description = root.Get("description") is { } descriptionNode ? String(descriptionNode) : null;
            var kernel = root.Get("kernel") is { } kernelNode ? Kernel(kernelNode) : KernelVersion.Default;
            var components = root.Get("components") is { } componentsNode ? Components(componentsNode) : [];
            var options = new Dictionary<string, (JsonElement Value, SourceLocation Location)>(StringComparer.Ordinal);
            if (root.Get("options") is { } optionsNode)
            {
                ExpectObject(optionsNode, "{\"linux.earlyKill\": false}");
                Options(optionsNode, "", options);
            }
            ulong? hostMemory = null;
            Node? hostMemoryNode = null;
            if (root.Get("host") is { } host)
            {
                ExpectObject(host, "{\"memory\": \"256M\"}");
                CheckProperties(host, ["memory"], "host property");
                if (host.Get("memory") is { } memory)
                {
                    hostMemoryNode = memory;
                    hostMemory = HostMemory(memory);
                }
            }
            var vms = root.Get("vms") is { } vmsNode ? Vms(vmsNode, hostMemory, hostMemoryNode) : [];
            var hostFrames = ScenarioLimits.HostFrames(hostMemory ?? ScenarioLimits.DefaultHostMemory(vms.Aggregate(0UL, (sum, vm) => sum + vm.Memory)));
            var stepsNode = Required(root, "steps", "the scenario");
            ExpectArray(stepsNode, "a list of steps like [{\"op\": \"host.read\", ...}]");
            var bounds = vms.Select(vm => new VmBounds(vm)).ToList();
            var steps = stepsNode.Items().Select((step, index) => Step(step, index, bounds, hostFrames)).ToList();

            return new Scenario
            {
                File = map.File,
                Name = name,
                Description = description,
                Kernel = kernel,
                Components = components,
                Options = options,
                HostMemory = hostMemory,
                Vms = vms,
                Steps = steps,
            };
        }

        private KernelVersion Kernel(Node node)
        {
            var text = node.Kind == JsonValueKind.String ? node.Element.GetString()! : "";
            if (!KernelPattern().IsMatch(text) || !KernelVersion.TryParse(text, out var version))
                throw Fail(node, $"expected a kernel version like \"5.16\" or \"6.11\", not {Describe(node)}");
            return version;
        }

        private Dictionary<ComponentKind, string> Components(Node node)
        {
            ExpectObject(node, "{\"memory\": \"plain\", \"policy\": \"none\"}");
            var result = new Dictionary<ComponentKind, string>();
            var kinds = ComponentKind.WellKnown.Select(k => k.Name).ToList();
            foreach (var (name, value) in node.Properties())
            {
                if (!ComponentKinds.TryParse(name, out var kind))
                    throw FailAtName(value, $"unknown component kind {NameHints.Quote(name)}{NameHints.DidYouMean(name, kinds)}; use one of: {string.Join(", ", kinds)}");
                result[kind] = NonEmptyString(value);
            }
            return result;
        }

        /// <summary>Flattens nested sections: {"linux": {"earlyKill": false}} is "linux.earlyKill".</summary>
        private void Options(Node node, string prefix, Dictionary<string, (JsonElement Value, SourceLocation Location)> into)
        {
            foreach (var (name, value) in node.Properties())
            {
                var key = prefix + name;
                if (value.Kind == JsonValueKind.Object)
                {
                    Options(value, key + ".", into);
                    continue;
                }
                if (!key.Contains('.', StringComparison.Ordinal) || key.StartsWith('.') || key.EndsWith('.'))
                    throw FailAtName(value, $"option {NameHints.Quote(key)} needs a component: write \"<component>.<option>\", for example \"linux.earlyKill\"");
                if (into.ContainsKey(key))
                    throw FailAtName(value, $"option {NameHints.Quote(key)} is given twice; keep only one");
                into[key] = (value.Element.Clone(), map.NameOf(value.Path));
            }
        }

        private ulong HostMemory(Node node)
        {
            var memory = Size(node);
            if (memory < ScenarioLimits.PageBytes || memory % ScenarioLimits.PageBytes != 0)
                throw Fail(node, $"host \"memory\" must be a non-zero multiple of 4K, not {Describe(node)}");
            if (memory > ScenarioLimits.MaxHostMemory)
                throw Fail(node, $"host \"memory\" is {ScenarioLimits.Format(memory)}, more than the simulator's limit of {ScenarioLimits.Format(ScenarioLimits.MaxHostMemory)}; use at most \"64T\"");
            return memory;
        }

        private List<VmSpec> Vms(Node node, ulong? hostMemory, Node? hostMemoryNode)
        {
            ExpectArray(node, "a list of VMs like [{\"name\": \"vm1\", \"memory\": \"64M\"}]");
            var vms = new List<VmSpec>();
            ulong total = 0;
            ulong mapped = 0;
            foreach (var vm in node.Items())
            {
                ExpectObject(vm, "{\"name\": \"vm1\", \"memory\": \"64M\"}");
                CheckProperties(vm, VmProperties, "VM property");
                var nameNode = Required(vm, "name", "a VM");
                var name = NonEmptyString(nameNode);
                if (vms.Any(v => v.Name == name))
                    throw Fail(nameNode, $"two VMs are named {NameHints.Quote(name)}; give each VM its own name");
                var memoryNode = Required(vm, "memory", $"VM {NameHints.Quote(name)}");
                var memory = Size(memoryNode);
                var isProtected = vm.Get("protected") is { } protectedNode && Bool(protectedNode);
                var backingNode = vm.Get("backing");
                var backing = backingNode is { } b ? OneOf(b, Backings) : BackingKind.Shmem;
                var thp = vm.Get("thp") is { } thpNode && Bool(thpNode);
                var gmemFlags = GuestMemfdFlags.None;
                if (vm.Get("gmemFlags") is { } flagsNode)
                {
                    ExpectArray(flagsNode, "a list like [\"MMAP\", \"INIT_SHARED\"]");
                    foreach (var item in flagsNode.Items()) gmemFlags |= OneOf(item, GmemFlagNames);
                    if (backing != BackingKind.GuestMemfd)
                        throw FailAtName(flagsNode, $"\"gmemFlags\" apply to guest-memfd backing only; set \"backing\": \"guest-memfd\" on VM {NameHints.Quote(name)} or remove \"gmemFlags\"");
                }

                if (memory < ScenarioLimits.PageBytes || memory % ScenarioLimits.PageBytes != 0)
                    throw Fail(memoryNode, $"VM {NameHints.Quote(name)}: \"memory\" must be a non-zero multiple of 4K, not {Describe(memoryNode)}");
                if (backing == BackingKind.Hugetlb && memory % PageGeometry.HugeSize != 0)
                    throw Fail(memoryNode, $"VM {NameHints.Quote(name)}: hugetlb memory must be a multiple of 2M, not {ScenarioLimits.Format(memory)}");
                if (hostMemory is { } host && memory > host)
                    throw Fail(memoryNode, $"VM {NameHints.Quote(name)} has {ScenarioLimits.Format(memory)} of memory, more than host.memory ({ScenarioLimits.Format(host)}); raise host.memory or give the VM less");
                mapped = ScenarioLimits.SaturatingAdd(mapped, ScenarioLimits.MappingBytes(memory));
                if (mapped > ScenarioLimits.MaxVmMappingBytes)
                    throw Fail(memoryNode, $"the VMs' mappings need {ScenarioLimits.Format(mapped)} by VM {NameHints.Quote(name)}: the VMM maps each VM at the next 1G boundary from 0x{ScenarioLimits.VmmMappingBase:x}, and user space ends at 0x{ScenarioLimits.UserSpaceEnd:x}, so the VMs' memory, each rounded up to 1G, must total at most 1T; give the VMs less memory or use fewer VMs");
                total += memory;
                if (hostMemory is { } hostBytes && total > hostBytes)
                    throw Fail(hostMemoryNode!.Value, $"host.memory ({ScenarioLimits.Format(hostBytes)}) is smaller than the VMs' memory ({ScenarioLimits.Format(total)} with VM {NameHints.Quote(name)}); raise host.memory or leave it out (the default is the VMs' memory plus 256M)");
                vms.Add(new VmSpec(name, memory, isProtected, backing, thp, Location(vm)) { GmemFlags = gmemFlags });
            }
            return vms;
        }

        private StepSpec Step(Node step, int index, List<VmBounds> vms, ulong hostFrames)
        {
            ExpectObject(step, "{\"op\": \"host.read\", \"vm\": \"vm1\", \"gpa\": \"0x1000\", \"len\": 4}");
            var opNode = Required(step, "op", "a step");
            var op = String(opNode);
            if (!Shapes.TryGetValue(op, out var shape))
                throw Fail(opNode, $"unknown op {NameHints.Quote(op)}{NameHints.DidYouMean(op, Ops)}; use one of: {string.Join(", ", Ops)}");
            var what = $"step {index} ({op})";
            CheckStepProperties(step, op, shape, what);

            VmBounds? vm = null;
            if (step.Get("vm") is { } vmNode)
            {
                var vmName = String(vmNode);
                vm = vms.Find(v => v.Name == vmName);
                if (vm is null)
                    throw Fail(vmNode, vms.Count == 0
                        ? $"no VM named {NameHints.Quote(vmName)}: the scenario declares no VMs; add one under \"vms\""
                        : $"no VM named {NameHints.Quote(vmName)}{NameHints.DidYouMean(vmName, vms.Select(v => v.Name))}; the scenario's VMs: {string.Join(", ", vms.Select(v => v.Name))}");
            }

            var spec = new StepSpec
            {
                Index = index,
                Op = op,
                Location = Location(step),
                Vm = vm?.Name,
                Gpa = OptionalSize(step, "gpa"),
                Hva = OptionalSize(step, "hva"),
                Pfn = OptionalSize(step, "pfn"),
                Offset = OptionalSize(step, "offset"),
                Len = step.Get("len") is { } len ? ReadLength(len) : null,
                Size = OptionalSize(step, "size"),
                Pages = step.Get("pages") is { } pages ? (int)Integer(pages, 1, int.MaxValue) : null,
                Data = step.Get("data") is { } data ? Data(data) : null,
                Shared = step.Get("shared") is { } shared ? Bool(shared) : null,
                To = step.Get("to") is { } to ? OneOf(to, ToValues) : null,
                Private = step.Get("private") is { } isPrivate ? Bool(isPrivate) : null,
                Flags = step.Get("flags") is { } flags ? Flags(flags) : GupFlags.None,
                Advice = step.Get("advice") is { } advice ? OneOf(advice, Advices) : null,
                Mode = step.Get("mode") is { } mode ? Mode(mode) : [],
                Consumed = step.Get("consumed") is { } consumed ? Bool(consumed) : null,
                Bit = step.Get("bit") is { } bit ? (int)Integer(bit, 0, 511) : null,
                BufferGpa = OptionalSize(step, "bufferGpa"),
                Requester = step.Get("requester") is { } requester ? OneOf(requester, Requesters) : null,
                Expect = step.Get("expect") is { } expect ? Expectation(expect) : null,
            };
            CheckStep(step, spec, shape, vm, hostFrames, what);
            return spec;
        }

        /// <summary>Each op takes only its own properties; one it does not use is an error listing the ones it does.</summary>
        private void CheckStepProperties(Node step, string op, OpShape shape, string what)
        {
            foreach (var (name, value) in step.Properties())
            {
                if (shape.Properties.Contains(name)) continue;
                var takes = $"{op} takes: {string.Join(", ", shape.Properties)}";
                throw FailAtName(value, StepProperties.Contains(name)
                    ? $"{what} does not use {NameHints.Quote(name)}; remove it ({takes})"
                    : $"unknown property {NameHints.Quote(name)} in {what}{NameHints.DidYouMean(name, shape.Properties)}; {takes}");
            }
        }

        /// <summary>Addressing, required properties and ranges: what the engine would otherwise find only when the step runs.</summary>
        private void CheckStep(Node step, StepSpec s, OpShape shape, VmBounds? vm, ulong hostFrames, string what)
        {
            foreach (var property in shape.Required)
                if (step.Get(property) is null) throw Fail(step, $"{what} needs {NameHints.Quote(property)}");

            // How much memory from the address the step touches: its data, len, size or pages.
            var extent = s.Data is { } bytes ? (ulong)bytes.Length : s.Len ?? s.Size ?? 0;
            var extentName = s.Data is not null ? "data" : s.Len is not null ? "len" : s.Size is not null ? "size" : null;

            switch (shape.Addressing)
            {
                case Addressing.Vm:
                    if (vm is null) throw Fail(step, $"{what} needs \"vm\"");
                    break;
                case Addressing.VmGpa:
                    RequireVmGpa(step, vm, what);
                    CheckGpaRange(step, vm!, s.Gpa!.Value, extent, extentName, what);
                    break;
                case Addressing.HvaOrVmGpa:
                    if (s.Hva is not null && (vm is not null || s.Gpa is not null))
                        throw Fail(step, $"{what} takes \"hva\" or \"vm\" and \"gpa\", not both; remove one");
                    if (s.Hva is null)
                    {
                        if (vm is null && s.Gpa is null) throw Fail(step, $"{what} needs \"hva\", or \"vm\" and \"gpa\"");
                        RequireVmGpa(step, vm, what);
                        if (s.Op == "host.gup")
                            CheckGpaRange(step, vm!, s.Gpa!.Value & ~(ScenarioLimits.PageBytes - 1), (ulong)(s.Pages ?? 1) * ScenarioLimits.PageBytes, "pages", what);
                        else if (s.Op is "thp.collapse" or "thp.split")
                            CheckGpaRange(step, vm!, s.Gpa!.Value, 0, null, what);
                        else
                            CheckGpaRange(step, vm!, s.Gpa!.Value, extent, extentName, what);
                    }
                    break;
                case Addressing.VmGpaOrPfn:
                    if (s.Pfn is { } pfn)
                    {
                        if (vm is not null || s.Gpa is not null)
                            throw Fail(step, $"{what} takes \"pfn\" or \"vm\" and \"gpa\", not both; remove one");
                        if (pfn >= hostFrames)
                            throw Fail(step.Get("pfn")!.Value, $"{what}: pfn 0x{pfn:x} is outside host memory, which has 0x{hostFrames:x} frames (pfn 0 to 0x{hostFrames - 1:x}); use a smaller pfn or a larger host.memory");
                        if (!ScenarioLimits.Inside(pfn * ScenarioLimits.PageBytes, extent, hostFrames * ScenarioLimits.PageBytes))
                            throw Fail(step.Get("pfn")!.Value, $"{what}: pfn 0x{pfn:x} + {extentName} 0x{extent:x} runs past the end of host memory ({ScenarioLimits.Format(hostFrames * ScenarioLimits.PageBytes)}); use less {extentName} or a smaller pfn");
                        if (s.Requester is "seam" or "kvm")
                            throw Fail(step, $"{what} with \"requester\": \"{s.Requester}\" needs \"vm\" and \"gpa\" instead of \"pfn\" (it acts on that VM's memory)");
                    }
                    else
                    {
                        if (vm is null && s.Gpa is null) throw Fail(step, $"{what} needs \"vm\" and \"gpa\", or \"pfn\"");
                        RequireVmGpa(step, vm, what);
                        CheckGpaRange(step, vm!, s.Gpa!.Value, extent, extentName, what);
                    }
                    break;
                case Addressing.VmFile:
                    if (vm is null) throw Fail(step, $"{what} needs \"vm\"");
                    if (!vm.HasFile)
                        throw Fail(step, $"{what}: VM {NameHints.Quote(vm.Name)} is anon-backed, so there is no backing file; use backing shmem, hugetlb, file or guest-memfd");
                    CheckFileOp(step, s, vm, what);
                    break;
            }
        }

        private void CheckFileOp(Node step, StepSpec s, VmBounds vm, string what)
        {
            if (s.Op == "host.pwrite")
            {
                if (s.BufferGpa is not null && s.Data is not null)
                    throw Fail(step, $"{what} with \"bufferGpa\" writes from guest memory: give \"len\", not \"data\"");
                if (s.BufferGpa is not null && s.Len is null)
                    throw Fail(step, $"{what} with \"bufferGpa\" needs \"len\" (how many bytes to write from guest memory)");
                if (s.BufferGpa is null && s.Len is not null)
                    throw Fail(step.Get("len")!.Value, $"{what} takes \"len\" only with \"bufferGpa\"; give the bytes as \"data\"");
                if (s.BufferGpa is null && s.Data is null)
                    throw Fail(step, $"{what} needs \"data\" (or \"bufferGpa\" and \"len\")");
            }
            if (s.Op == "host.mmap-backing" && s.Hva is { } fixedAt && fixedAt % ScenarioLimits.PageBytes != 0)
                throw Fail(step.Get("hva")!.Value, $"{what}: \"hva\" 0x{fixedAt:x} must be page-aligned (MAP_FIXED); use a multiple of 4K");

            var offset = s.Offset ?? 0;
            var (extent, extentName) = s.Data is { } bytes ? ((ulong)bytes.Length, "data") : s.Len is { } len ? (len, "len") : (s.Size ?? 0, "size");
            // The backing file has the VM's size and its offset 0 is gpa 0 (scenario-format.md).
            if (!ScenarioLimits.Inside(offset, extent, vm.Memory) || (extent == 0 && offset >= vm.Memory))
                throw Fail(step.Get("offset") ?? step, $"{what}: offset 0x{offset:x} + {extentName} 0x{extent:x} is outside the backing file of VM {NameHints.Quote(vm.Name)} ({ScenarioLimits.Format(vm.Memory)}, the VM's size); keep offset + {extentName} within {ScenarioLimits.Format(vm.Memory)}");
            if (s.BufferGpa is { } buffer)
                CheckGpaRange(step.Get("bufferGpa")!.Value, vm, buffer, s.Len ?? 0, "len", what, "bufferGpa");
        }

        private void RequireVmGpa(Node step, VmBounds? vm, string what)
        {
            if (vm is null) throw Fail(step, $"{what} needs \"vm\" with \"gpa\"");
            if (step.Get("gpa") is null) throw Fail(step, $"{what} needs \"gpa\" with \"vm\"");
        }

        /// <summary>[gpa, gpa + extent) must lie inside the VM's memory, computed without wrapping.</summary>
        private void CheckGpaRange(Node at, VmBounds vm, ulong gpa, ulong extent, string? extentName, string what, string gpaName = "gpa")
        {
            var node = at.Get(gpaName) ?? at;
            if (gpa >= vm.Memory)
                throw Fail(node, $"{what}: {gpaName} 0x{gpa:x} is outside VM {NameHints.Quote(vm.Name)}, whose memory is {ScenarioLimits.Format(vm.Memory)} (gpa 0 to 0x{vm.Memory - 1:x}); use a smaller {gpaName} or give the VM more memory");
            if (!ScenarioLimits.Inside(gpa, extent, vm.Memory))
                throw Fail(extentName is not null && at.Get(extentName) is { } extentNode ? extentNode : node, $"{what}: {gpaName} 0x{gpa:x} + {extentName} 0x{extent:x} runs past the end of VM {NameHints.Quote(vm.Name)}, whose memory is {ScenarioLimits.Format(vm.Memory)}; keep {gpaName} + {extentName} within {ScenarioLimits.Format(vm.Memory)} or give the VM more memory");
        }

        private GupFlags Flags(Node node)
        {
            ExpectArray(node, "a list like [\"write\", \"pin\"]");
            var flags = GupFlags.None;
            foreach (var item in node.Items()) flags |= OneOf(item, GupFlagNames);
            return flags;
        }

        private List<string> Mode(Node node)
        {
            ExpectArray(node, "a list like [\"PUNCH_HOLE\", \"KEEP_SIZE\"]");
            return node.Items().Select(item => OneOf(item, Modes)).ToList();
        }

        private Expectation Expectation(Node node)
        {
            var json = node.Element.Clone();
            if (node.Kind == JsonValueKind.String)
                return new Expectation { Kind = OneOf(node, OutcomeNames, ", or an object with one of: " + string.Join(", ", OutcomeObjectKeys), "outcome"), Json = json };
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"expected an outcome: one of {string.Join(", ", OutcomeNames.Select(n => '"' + n.Name + '"'))}, or an object with one of: {string.Join(", ", OutcomeObjectKeys)}; not {Describe(node)}");

            if (node.Get("ok") is { } ok)
            {
                CheckProperties(node, ["ok"], "key of an ok outcome");
                ExpectObject(ok, "{\"data\": \"0x00\"} or {\"count\": 1} or {}");
                CheckProperties(ok, ["data", "count"], "field of an ok outcome");
                return new Expectation
                {
                    Kind = OutcomeKind.Ok,
                    Data = ok.Get("data") is { } data ? Data(data) : null,
                    Count = ok.Get("count") is { } count ? Integer(count, 0, long.MaxValue) : null,
                    Json = json,
                };
            }
            if (node.Get("sigbus") is { } sigbus)
            {
                CheckProperties(node, ["sigbus"], "key of a sigbus outcome");
                ExpectObject(sigbus, "{\"code\": \"BUS_MCEERR_AR\", \"lsb\": 12}");
                CheckProperties(sigbus, ["code", "lsb"], "field of a sigbus outcome");
                var code = OneOf(Required(sigbus, "code", "a sigbus outcome"), SigBusCodes);
                var lsbNode = sigbus.Get("lsb");
                if (code == SigBusCode.SI_KERNEL && lsbNode is { } noLsb)
                    throw FailAtName(noLsb, "a SIGBUS with code SI_KERNEL (a plain force_sig) carries no address and no lsb; remove \"lsb\"");
                return new Expectation
                {
                    Kind = OutcomeKind.SigBus,
                    SigBusCode = code,
                    Lsb = lsbNode is { } lsb ? (int)Integer(lsb, 0, 63) : null,
                    Json = json,
                };
            }
            if (node.Get("kvm-exit") is { } exit)
            {
                CheckProperties(node, ["kvm-exit", "errno"], "key of a kvm-exit outcome");
                ExpectObject(exit, "{\"reason\": \"MEMORY_FAULT\", \"flags\": [\"PRIVATE\"], \"gpa\": \"0x1000\", \"size\": \"4K\"}");
                CheckProperties(exit, ["reason", "flags", "gpa", "size"], "field of a kvm-exit outcome");
                List<string>? exitFlags = null;
                if (exit.Get("flags") is { } flagsNode)
                {
                    ExpectArray(flagsNode, "a list like [\"PRIVATE\"]");
                    exitFlags = flagsNode.Items().Select(NonEmptyString).ToList();
                }
                return new Expectation
                {
                    Kind = OutcomeKind.KvmExit,
                    ExitReason = NonEmptyString(Required(exit, "reason", "a kvm-exit outcome")),
                    ExitFlags = exitFlags,
                    ExitGpa = OptionalSize(exit, "gpa"),
                    ExitSize = OptionalSize(exit, "size"),
                    Errno = node.Get("errno") is { } exitErrno ? Errno(exitErrno) : null,
                    Json = json,
                };
            }
            if (node.Get("errno") is { } errno)
            {
                CheckProperties(node, ["errno"], "key of an errno outcome");
                return new Expectation { Kind = OutcomeKind.Errno, Errno = Errno(errno), Json = json };
            }
            if (node.Get("killed") is { } killed)
            {
                CheckProperties(node, ["killed"], "key of a killed outcome");
                return new Expectation { Kind = OutcomeKind.Killed, Signal = NonEmptyString(killed), Json = json };
            }
            if (node.Get("state") is { } state)
            {
                CheckProperties(node, ["state"], "key of a state outcome");
                return new Expectation { Kind = OutcomeKind.State, State = State(state), Json = json };
            }
            var first = node.Properties().FirstOrDefault();
            if (first.Name is null)
                throw Fail(node, $"an outcome object needs one of: {string.Join(", ", OutcomeObjectKeys)}");
            throw FailAtName(first.Value, $"unknown outcome {NameHints.Quote(first.Name)}{NameHints.DidYouMean(first.Name, OutcomeObjectKeys.Concat(OutcomeNames.Select(n => n.Name)))}; use one of: {string.Join(", ", OutcomeObjectKeys)}");
        }

        private Dictionary<string, JsonElement> State(Node node)
        {
            ExpectObject(node, "{\"hwpoison\": true, \"owner\": \"td1\"}");
            CheckProperties(node, StateFields, "state field");
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var (name, value) in node.Properties())
            {
                if (StateBoolFields.Contains(name))
                    Bool(value);
                else if (name is "owner" or "pfn" or "pte")
                {
                    if (value.Kind is not (JsonValueKind.String or JsonValueKind.Null))
                        throw Fail(value, $"\"{name}\" is a string or null, not {Describe(value)}");
                }
                else if (name is "refcount" or "mapcount")
                {
                    Integer(value, 0, int.MaxValue);
                }
                else
                {
                    ExpectObject(value, "{\"poisoned\": 1}");
                    CheckProperties(value, ["poisoned"], "field of \"lines\"");
                    if (value.Get("poisoned") is { } poisoned) Integer(poisoned, 0, PageGeometry.LinesPerPage);
                }
                fields[name] = value.Element.Clone();
            }
            return fields;
        }

        private Errno Errno(Node node)
        {
            var text = String(node);
            if (!ErrnoPattern().IsMatch(text) || !Enum.TryParse<Errno>(text, ignoreCase: false, out var errno) || !Enum.IsDefined(errno))
                throw Fail(node, $"unknown errno {NameHints.Quote(text)}{NameHints.DidYouMean(text, Enum.GetNames<Errno>())}; use one of: {string.Join(", ", Enum.GetNames<Errno>())}");
            return errno;
        }

        private byte[] Data(Node node)
        {
            if (node.Kind == JsonValueKind.String)
            {
                var text = node.Element.GetString()!;
                if (!HexBytesPattern().IsMatch(text))
                    throw Fail(node, $"{DataHint} (an even number of hex digits after 0x), not {Describe(node)}");
                CountData(node, (ulong)(text.Length - 2) / 2);
                return Convert.FromHexString(text.AsSpan(2));
            }
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"{DataHint}, not {Describe(node)}");
            if (node.Get("fill") is { } fill)
            {
                CheckProperties(node, ["fill", "len"], "field of fill data");
                var fillText = String(fill);
                if (!HexBytesPattern().IsMatch(fillText) || fillText.Length - 2 > 2 * (int)ScenarioLimits.MaxDataBytes)
                    throw Fail(fill, $"\"fill\" is hex bytes like \"0xaa\", not {Describe(fill)}");
                var unit = Convert.FromHexString(fillText.AsSpan(2));
                var lenNode = Required(node, "len", "fill data");
                var length = DataLength(lenNode);
                CountData(lenNode, (ulong)length);
                var bytes = new byte[length];
                // Repeat the unit by doubling what is already filled.
                var filled = Math.Min(unit.Length, length);
                unit.AsSpan(0, filled).CopyTo(bytes);
                for (; filled < length; filled *= 2) bytes.AsSpan(0, Math.Min(filled, length - filled)).CopyTo(bytes.AsSpan(filled));
                return bytes;
            }
            if (node.Get("pattern") is { } pattern)
            {
                CheckProperties(node, ["pattern", "len"], "field of pattern data");
                if (pattern.Kind != JsonValueKind.Number || !pattern.Element.TryGetInt64(out var seed))
                    throw Fail(pattern, $"\"pattern\" is an integer seed like 7, not {Describe(pattern)}");
                var lenNode = Required(node, "len", "pattern data");
                var length = DataLength(lenNode);
                CountData(lenNode, (ulong)length);
                return PatternBytes.Generate(seed, length);
            }
            var first = node.Properties().FirstOrDefault();
            if (first.Name is not null && first.Name != "len")
                throw FailAtName(first.Value, $"unknown data field {NameHints.Quote(first.Name)}{NameHints.DidYouMean(first.Name, ["fill", "pattern", "len"])}; {DataHint}");
            throw Fail(node, DataHint);
        }

        /// <summary>Counts a data value against the scenario's total (<see cref="ScenarioLimits.MaxScenarioDataBytes"/>) before it is built.</summary>
        private void CountData(Node node, ulong length)
        {
            if (length > ScenarioLimits.MaxDataBytes)
                throw Fail(node, $"a data value is at most {ScenarioLimits.Format(ScenarioLimits.MaxDataBytes)}, not {ScenarioLimits.Format(length)}; use less data");
            _dataBytes += length;
            if (_dataBytes > ScenarioLimits.MaxScenarioDataBytes)
                throw Fail(node, $"the scenario's data values come to {ScenarioLimits.Format(_dataBytes)} with this one, more than the limit of {ScenarioLimits.Format(ScenarioLimits.MaxScenarioDataBytes)} per scenario; use less data or split the scenario");
        }

        /// <summary>The <c>len</c> of fill or pattern data: 1 byte to <see cref="ScenarioLimits.MaxDataBytes"/>.</summary>
        private int DataLength(Node node)
        {
            var length = Size(node);
            if (length == 0 || length > ScenarioLimits.MaxDataBytes)
                throw Fail(node, $"data \"len\" must be between 1 and {ScenarioLimits.Format(ScenarioLimits.MaxDataBytes)}, not {Describe(node)}");
            return (int)length;
        }

        /// <summary>A read's <c>len</c>: the simulator allocates that buffer, so it is held to the data limit too.</summary>
        private ulong ReadLength(Node node)
        {
            var length = Size(node);
            if (length == 0 || length > ScenarioLimits.MaxDataBytes)
                throw Fail(node, $"\"len\" must be between 1 and {ScenarioLimits.Format(ScenarioLimits.MaxDataBytes)}, not {Describe(node)}");
            return length;
        }

        private ulong? OptionalSize(Node owner, string property) => owner.Get(property) is { } node ? Size(node) : null;

        private ulong Size(Node node)
        {
            var problem = SizeProblem.Malformed;
            switch (node.Kind)
            {
                case JsonValueKind.Number when node.Element.TryGetUInt64(out var number):
                    return number;
                case JsonValueKind.Number:
                    var raw = node.Element.GetRawText();
                    problem = raw.StartsWith('-') ? SizeProblem.Negative
                        : raw.Contains('.', StringComparison.Ordinal) || raw.Contains('e', StringComparison.OrdinalIgnoreCase) ? SizeProblem.Fraction
                        : SizeProblem.TooLarge;
                    break;
                case JsonValueKind.String:
                    problem = ParseSizeText(node.Element.GetString()!, out var size);
                    if (problem == SizeProblem.None) return size;
                    break;
            }
            throw Fail(node, problem switch
            {
                SizeProblem.Negative => $"\"{node.Name}\" must not be negative, not {Describe(node)}; {SizeHint}",
                SizeProblem.Fraction => $"\"{node.Name}\" must be a whole number of bytes, not {Describe(node)}; {SizeHint}",
                SizeProblem.TooLarge => $"\"{node.Name}\" is {Describe(node)}, which does not fit in 64 bits (at most 0xffffffffffffffff); use a smaller value",
                _ => $"{SizeHint} for \"{node.Name}\", not {Describe(node)}",
            });
        }

        private long Integer(Node node, long min, long max)
        {
            if (node.Kind != JsonValueKind.Number || !node.Element.TryGetInt64(out var value))
            {
                if (node.Kind == JsonValueKind.Number && !node.Element.GetRawText().Contains('.', StringComparison.Ordinal) && !node.Element.GetRawText().Contains('e', StringComparison.OrdinalIgnoreCase))
                    throw Fail(node, $"\"{node.Name}\" must be between {min} and {max}, not {Describe(node)}");
                throw Fail(node, $"\"{node.Name}\" is an integer, not {Describe(node)}");
            }
            if (value < min || value > max)
                throw Fail(node, max == long.MaxValue || max == int.MaxValue
                    ? $"\"{node.Name}\" must be at least {min}, not {value}"
                    : $"\"{node.Name}\" must be between {min} and {max}, not {value}");
            return value;
        }

        private bool Bool(Node node) => node.Kind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Fail(node, $"\"{node.Name}\" is true or false, not {Describe(node)}"),
        };

        private string String(Node node) =>
            node.Kind == JsonValueKind.String ? node.Element.GetString()! : throw Fail(node, $"\"{node.Name}\" is a string, not {Describe(node)}");

        private string NonEmptyString(Node node)
        {
            var text = String(node);
            return text.Length > 0 ? text : throw Fail(node, $"\"{node.Name}\" must not be empty");
        }

        private T OneOf<T>(Node node, (string Name, T Value)[] choices, string extra = "", string? label = null)
        {
            label ??= node.Name;
            var list = string.Join(", ", choices.Select(c => c.Name));
            if (node.Kind != JsonValueKind.String)
                throw Fail(node, $"expected {label} as one of: {list}{extra}; not {Describe(node)}");
            var text = node.Element.GetString()!;
            foreach (var (name, value) in choices)
                if (name == text) return value;
            throw Fail(node, $"unknown {label} {NameHints.Quote(text)}{NameHints.DidYouMean(text, choices.Select(c => c.Name))}; use one of: {list}{extra}");
        }

        private Node Required(Node owner, string property, string what) =>
            owner.Get(property) ?? throw Fail(owner, $"{what} needs \"{property}\"");

        private void ExpectObject(Node node, string example)
        {
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"{(node.IsItem ? "each item of " : "")}\"{node.Name}\" is an object like {example}, not {Describe(node)}");
        }

        private void ExpectArray(Node node, string example)
        {
            if (node.Kind != JsonValueKind.Array)
                throw Fail(node, $"\"{node.Name}\" is {example}, not {Describe(node)}");
        }

        private void CheckProperties(Node node, string[] allowed, string what)
        {
            foreach (var (name, value) in node.Properties())
                if (!allowed.Contains(name))
                    throw FailAtName(value, $"unknown {what} {NameHints.Quote(name)}{NameHints.DidYouMean(name, allowed)}; use one of: {string.Join(", ", allowed)}");
        }

        private SourceLocation Location(Node node) => map.ValueOf(node.Path);

        private ScenarioException Fail(Node node, string message) => new(message, map.ValueOf(node.Path));

        private ScenarioException FailAtName(Node node, string message) => new(message, map.NameOf(node.Path));

        private static string Describe(Node node) => node.Kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "a list",
            _ => NameHints.Shorten(node.Element.GetRawText()),
        };
    }
}
